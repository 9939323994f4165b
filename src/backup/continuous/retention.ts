import { heldBy } from '../restore-lease.js';
import { DEFAULT_REMOTE_KEEP, type RetentionPolicy } from '../retention.js';
import type { ObjectStore } from './destination.js';
import { LINEAGES, type ParsedKey, parseKey } from './object-names.js';
import { decodeHeader, HEADER_BYTES } from './segment-format.js';
import { readStoreLeases } from './store-lease.js';

/** What a continuous retention pass did. */
export interface ContinuousRetentionOutcome {
  /** The oldest snapshot kept: every moment from it on stays restorable (undefined: no snapshot). */
  readonly oldestKept: { readonly key: string; readonly timeMs: number } | undefined;
  readonly removed: readonly string[];
  /** Objects the rules would remove that a live restore lease holds. */
  readonly held: readonly string[];
}

interface Snapshot {
  readonly key: string;
  readonly lineageDir: string;
  readonly txid: bigint;
  readonly timeMs: number;
}

const DAY_MS = 86_400_000;

/**
 * Removes the continuous-backup objects no rule needs. Issue 14's rules pick snapshots (the newest
 * `keep`, OR those younger than `keepDays`; neither set: the newest 24), and since a moment restores
 * from the newest snapshot at or before it, the age rule also keeps the newest snapshot at or
 * before the window's start. The oldest snapshot kept this way is the anchor: it, everything after
 * it in its lineage, and every later lineage stay, so the chain from the newest snapshot and every
 * moment of the window keep what they need. Older snapshots, the segments they need, and older
 * lineages go, except what a live restore lease holds (an unreadable lease holds everything).
 * Snapshots go before segments, oldest first, so an interrupted pass never leaves a snapshot whose
 * chain lost its start; removal is idempotent, so the next pass finishes it. Expired leases go too.
 */
export async function applyContinuousRetention(
  store: ObjectStore,
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<ContinuousRetentionOutcome> {
  const keys = await store.list('');
  const objects = keys.flatMap((key) => {
    const parsed = key.startsWith(LINEAGES) ? parseKey(key) : undefined;
    return parsed === undefined ? [] : [{ key, parsed }];
  });
  // Lineage folders sort by start time; snapshots within one by txid: this is time order.
  const order = (a: { key: string; parsed: ParsedKey }, b: { key: string; parsed: ParsedKey }): number =>
    a.parsed.lineageDir !== b.parsed.lineageDir
      ? a.parsed.lineageDir < b.parsed.lineageDir
        ? -1
        : 1
      : txidOf(a.parsed) < txidOf(b.parsed)
        ? -1
        : txidOf(a.parsed) > txidOf(b.parsed)
          ? 1
          : 0;
  const snapshots: Snapshot[] = [];
  for (const o of objects.filter((x) => x.parsed.kind === 'snapshot').sort(order)) {
    const header = decodeHeader(await store.head(o.key, HEADER_BYTES), `${store.url}/${o.key}`);
    snapshots.push({
      key: o.key,
      lineageDir: o.parsed.lineageDir,
      txid: txidOf(o.parsed),
      timeMs: header.maxTimeMs,
    });
  }
  const anchor = snapshots[anchorIndex(snapshots, policy, now)];
  if (anchor === undefined) return Object.freeze({ oldestKept: undefined, removed: [], held: [] });

  const leases = await readStoreLeases(store, keys, now);
  const isHeld = heldBy(leases.live);
  const doomed = objects.filter(({ parsed }) => {
    if (parsed.lineageDir !== anchor.lineageDir) return parsed.lineageDir < anchor.lineageDir;
    return parsed.kind === 'snapshot' ? parsed.txid < anchor.txid : parsed.maxTxid <= anchor.txid;
  });
  let removed: string[] = [];
  const heldBack: string[] = [];
  for (const kind of ['snapshot', 'segment'] as const)
    for (const o of doomed.filter((x) => x.parsed.kind === kind).sort(order)) {
      if (isHeld(o.key)) heldBack.push(o.key);
      else removed.push(o.key);
    }
  if (removed.length > 0) {
    // A restore may have leased some of them since the listing: look again just before removing,
    // which shrinks the window from the whole pass to one round trip.
    const seen = new Set(keys);
    const fresh = (await store.list('')).filter((key) => !seen.has(key));
    const lateHeld = heldBy((await readStoreLeases(store, fresh, now)).live);
    heldBack.push(...removed.filter(lateHeld));
    removed = removed.filter((key) => !lateHeld(key));
  }
  const gone = [...removed, ...leases.expired];
  for (let i = 0; i < gone.length; i += 1000) await store.remove(gone.slice(i, i + 1000));
  return Object.freeze({
    oldestKept: { key: anchor.key, timeMs: anchor.timeMs },
    removed,
    held: heldBack,
  });
}

/** Index of the oldest snapshot to keep: of the rules set, the one keeping more wins; never past the newest. */
function anchorIndex(snapshots: readonly Snapshot[], policy: RetentionPolicy, now: number): number {
  const newest = snapshots.length - 1;
  const keep = policy.keep ?? (policy.keepDays === undefined ? DEFAULT_REMOTE_KEEP : undefined);
  const candidates: number[] = [];
  if (keep !== undefined) candidates.push(Math.max(0, snapshots.length - keep));
  if (policy.keepDays !== undefined) {
    const start = now - policy.keepDays * DAY_MS;
    // Moments from `start` on restore from the newest snapshot at or before them: keep that one too.
    let i = 0;
    for (const [j, s] of snapshots.entries()) if (s.timeMs <= start) i = j;
    candidates.push(i);
  }
  return Math.min(newest, ...candidates);
}

function txidOf(p: ParsedKey): bigint {
  return p.kind === 'snapshot' ? p.txid : p.minTxid;
}
