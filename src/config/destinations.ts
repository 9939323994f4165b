import { type Rule, show, wholeNumber } from './rules.js';
import { suggest } from './suggest.js';

/** One `[[Database.destination]]` as written, checked (the URL not yet resolved). */
export interface DestinationValues {
  readonly url: string;
  readonly continuous: boolean;
  readonly syncIntervalSeconds: number;
  readonly snapshotIntervalSeconds: number;
}

/** Defaults of a destination's keys. */
export const DESTINATION_DEFAULTS = Object.freeze({
  continuous: false,
  syncIntervalSeconds: 1,
  snapshotIntervalSeconds: 86_400,
});

const KEYS = ['url', 'continuous', 'sync_interval_seconds', 'snapshot_interval_seconds'];
const syncRule: Rule<number> = (value) => {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n) || n <= 0)
    return { ok: false, problem: `must be a number > 0 (got ${show(value)})` };
  if (n > 86_400) return { ok: false, problem: `must be a number <= 86400 (got ${show(value)})` };
  return { ok: true, value: n };
};
const snapshotRule = wholeNumber(0, undefined, 2_147_483);

/**
 * The rule of `[[Database.destination]]`: an array of tables, each with `url` (a folder path,
 * `file://` or `s3://` URL), `continuous` (ship the WAL between snapshots), `sync_interval_seconds`
 * (default 1) and `snapshot_interval_seconds` (default 86400, 0: only when needed).
 */
export function destinations(): Rule<DestinationValues[]> {
  return (value) => {
    if (!Array.isArray(value))
      return {
        ok: false,
        problem: `must be an array of tables ([[Database.destination]]) (got ${show(value)})`,
      };
    const out: DestinationValues[] = [];
    for (const [i, item] of value.entries()) {
      const at = `#${i + 1}`;
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        return { ok: false, problem: `${at} must be a table (got ${show(item)})` };
      const t = item as Record<string, unknown>;
      for (const key of Object.keys(t)) {
        if (KEYS.includes(key)) continue;
        const hint = suggest(key, KEYS);
        return {
          ok: false,
          problem: `${at}: unknown key ${key} (${hint ? `did you mean ${hint}?` : `known keys: ${KEYS.join(', ')}`})`,
        };
      }
      if (typeof t.url !== 'string' || t.url === '')
        return { ok: false, problem: `${at} url must be a non-empty string (got ${show(t.url)})` };
      if (!/^(s3:\/\/[^/]+|file:\/\/\/|[^:]*$)/.test(t.url))
        return {
          ok: false,
          problem: `${at} url must be a folder path, file:///... or s3://bucket/prefix (got ${show(t.url)})`,
        };
      if (t.continuous !== undefined && typeof t.continuous !== 'boolean')
        return { ok: false, problem: `${at} continuous must be true or false (got ${show(t.continuous)})` };
      const sync = t.sync_interval_seconds === undefined ? undefined : syncRule(t.sync_interval_seconds);
      if (sync !== undefined && !sync.ok)
        return { ok: false, problem: `${at} sync_interval_seconds ${sync.problem}` };
      const snap =
        t.snapshot_interval_seconds === undefined ? undefined : snapshotRule(t.snapshot_interval_seconds);
      if (snap !== undefined && !snap.ok)
        return { ok: false, problem: `${at} snapshot_interval_seconds ${snap.problem}` };
      out.push(
        Object.freeze({
          url: t.url,
          continuous: (t.continuous as boolean | undefined) ?? DESTINATION_DEFAULTS.continuous,
          syncIntervalSeconds: sync?.value ?? DESTINATION_DEFAULTS.syncIntervalSeconds,
          snapshotIntervalSeconds: snap?.value ?? DESTINATION_DEFAULTS.snapshotIntervalSeconds,
        }),
      );
    }
    return { ok: true, value: out };
  };
}
