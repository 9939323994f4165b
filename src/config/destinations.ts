import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConfigSource } from './config-source.js';
import { ConfigError } from './errors.js';
import { nonEmptyString, type Rule, show, wholeNumber } from './rules.js';
import { suggest } from './suggest.js';

/** One `[[Database.destination]]` as written, checked. */
export interface DestinationValues {
  readonly url: string;
  readonly keep?: number;
  readonly keep_days?: number;
  readonly encryption_key_file?: string;
  readonly continuous?: boolean;
  readonly sync_interval_seconds?: number;
  readonly snapshot_interval_seconds?: number;
}

/** Defaults of a destination's continuous-shipping keys. */
export const DESTINATION_DEFAULTS = Object.freeze({
  continuous: false,
  syncIntervalSeconds: 1,
  snapshotIntervalSeconds: 86_400,
});

/** One off-site destination of the database, as the service uses it. */
export interface DestinationConfig {
  /** `s3://BUCKET/PREFIX` or `file:///FOLDER`. */
  readonly url: string;
  /** Remote backups kept (undefined: no count rule). */
  readonly keep: number | undefined;
  /** Remote backups younger than this many days are kept (undefined: no age rule). */
  readonly keepDays: number | undefined;
  /** Absolute path of the key that encrypts uploads; undefined: not encrypted. */
  readonly encryptionKeyFile: string | undefined;
  /** Ship the WAL continuously to it (point-in-time restore), between snapshots. */
  readonly continuous: boolean;
  /** Seconds between continuous uploads (fractions allowed). */
  readonly syncIntervalSeconds: number;
  /** Seconds between continuous snapshots; 0: only when needed. */
  readonly snapshotIntervalSeconds: number;
}

const KEYS: Record<keyof DestinationValues, Rule<unknown>> = {
  url: destinationUrl(),
  keep: wholeNumber(1, 100_000),
  keep_days: wholeNumber(1, 36_500),
  encryption_key_file: nonEmptyString('path'),
  continuous: (value) =>
    typeof value === 'boolean'
      ? { ok: true, value }
      : { ok: false, problem: `must be true or false (got ${show(value)})` },
  sync_interval_seconds: (value) => {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || Number.isNaN(n) || n <= 0)
      return { ok: false, problem: `must be a number > 0 (got ${show(value)})` };
    if (n > 86_400) return { ok: false, problem: `must be a number <= 86400 (got ${show(value)})` };
    return { ok: true, value: n };
  },
  snapshot_interval_seconds: wholeNumber(0, undefined, 2_147_483),
};
const SECTION = 'Database.destination';

/**
 * Checks the `[[Database.destination]]` tables: each a table with a `url`, no unknown keys, every
 * value valid, no URL twice. Problems are placed on the line of the key in its own table.
 */
export function checkDestinations(value: unknown, source: ConfigSource): DestinationValues[] {
  if (!Array.isArray(value))
    throw at(source, 0, undefined, `[[${SECTION}]] must be an array of tables (got ${show(value)})`);
  const seen = new Map<string, number>();
  return value.map((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry) || entry instanceof Date)
      throw at(source, index, undefined, `[[${SECTION}]] #${index + 1} must be a table (got ${show(entry)})`);
    const checked: Record<string, unknown> = {};
    for (const [key, raw] of Object.entries(entry as Record<string, unknown>)) {
      const rule = (KEYS as Record<string, Rule<unknown>>)[key];
      if (rule === undefined) {
        const hint = suggest(key, Object.keys(KEYS));
        throw at(
          source,
          index,
          key,
          `unknown key [[${SECTION}]] ${key} (${hint ? `did you mean ${hint}?` : `known keys: ${Object.keys(KEYS).join(', ')}`})`,
        );
      }
      const result = rule(raw);
      if (!result.ok) throw at(source, index, key, `[[${SECTION}]] ${key} ${result.problem}`);
      checked[key] = result.value;
    }
    if (checked.url === undefined)
      throw at(source, index, undefined, `[[${SECTION}]] #${index + 1} has no url`);
    const url = String(checked.url);
    const earlier = seen.get(url);
    if (earlier !== undefined)
      throw at(
        source,
        index,
        'url',
        `[[${SECTION}]] url ${url} is given twice (#${earlier + 1} and #${index + 1})`,
      );
    seen.set(url, index);
    return checked as unknown as DestinationValues;
  });
}

/** The destinations with paths resolved against the config file's folder. */
export function buildDestinations(
  values: readonly DestinationValues[] | undefined,
  baseDir: string,
): DestinationConfig[] {
  return (values ?? []).map((d) =>
    Object.freeze({
      url: /^(s3|file):\/\//.test(d.url) ? d.url : pathToFileURL(path.resolve(baseDir, d.url)).href,
      keep: d.keep,
      keepDays: d.keep_days,
      encryptionKeyFile:
        d.encryption_key_file === undefined ? undefined : path.resolve(baseDir, d.encryption_key_file),
      continuous: d.continuous ?? DESTINATION_DEFAULTS.continuous,
      syncIntervalSeconds: d.sync_interval_seconds ?? DESTINATION_DEFAULTS.syncIntervalSeconds,
      snapshotIntervalSeconds: d.snapshot_interval_seconds ?? DESTINATION_DEFAULTS.snapshotIntervalSeconds,
    }),
  );
}

/** A ConfigError about destination `index` (0-based), on the line of `key` in its table when found. */
export function destinationProblem(
  source: ConfigSource,
  index: number,
  key: string | undefined,
  reason: string,
): ConfigError {
  return at(source, index, key, reason);
}

function at(source: ConfigSource, index: number, key: string | undefined, reason: string): ConfigError {
  return new ConfigError(reason, {
    file: source.shownAs,
    key: key === undefined ? SECTION : `${SECTION}.${key}`,
    line: lineOf(source.text, index, key),
  });
}

/** The line of `key` inside the `index`-th `[[Database.destination]]` (or of its header). */
function lineOf(text: string, index: number, key: string | undefined): number | undefined {
  const lines = text.split(/\r?\n/);
  let count = -1;
  let inside = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^\s*\[/.test(line)) {
      inside = /^\s*\[\[\s*Database\s*\.\s*destination\s*\]\]/.test(line);
      if (inside) {
        count++;
        if (count === index && key === undefined) return i + 1;
      }
      continue;
    }
    if (inside && count === index && key !== undefined && new RegExp(`^\\s*${key}\\s*=`).test(line))
      return i + 1;
  }
  return undefined;
}

// The same shapes the backup part accepts (config may not import it): s3://BUCKET[/PREFIX], file:///FOLDER.
function destinationUrl(): Rule<string> {
  return (value) => {
    if (typeof value !== 'string')
      return { ok: false, problem: `must be a URL string like "s3://bucket/prefix" (got ${show(value)})` };
    const s3 = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(value);
    if (s3) {
      const bucket = s3[1] ?? '';
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..'))
        return {
          ok: false,
          problem: `has bucket ${JSON.stringify(bucket)}, not a valid bucket name (3-63 of a-z 0-9 . -) (got ${show(value)})`,
        };
      const prefix = (s3[2] ?? '').replace(/^\/+|\/+$/g, '');
      if (prefix !== '' && prefix.split('/').some((p) => p === '' || p === '.' || p === '..'))
        return { ok: false, problem: `has an empty, . or .. part in its prefix (got ${show(value)})` };
      return { ok: true, value };
    }
    if (/^file:\/\/\/./.test(value)) return { ok: true, value };
    // A plain folder path (no scheme), resolved against am.toml's folder.
    if (value !== '' && !value.includes(':')) return { ok: true, value };
    return {
      ok: false,
      problem: `must be s3://BUCKET/PREFIX, file:///FOLDER or a folder path (got ${show(value)})`,
    };
  };
}
