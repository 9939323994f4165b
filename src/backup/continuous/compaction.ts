import fs from 'node:fs';
import path from 'node:path';
import { BackupError } from '../errors.js';
import { heldBy } from '../restore-lease.js';
import type { ObjectStore } from './destination.js';
import { LINEAGES, type ParsedKey, parseKey, segmentKey } from './object-names.js';
import { formatChecksum } from './page-checksum.js';
import { checkObject, type ObjectHeader, ObjectWriter, readObject } from './segment-format.js';
import { readStoreLeases } from './store-lease.js';

/** How segments are merged. */
export interface CompactionPolicy {
  /**
   * A run of at least this many contiguous segments of one tier is merged into one object. A
   * segment's tier is how many times this number goes into its transaction count (with 60: 1-59
   * transactions tier 0, 60-3,599 tier 1, ...), so a merged object is of a higher tier than its
   * parts and is merged again only with its peers: each transaction is rewritten about once per
   * tier, not once per pass.
   */
  readonly minSegments: number;
  /** A merged object covers at most this many transactions; segments this large are left alone. */
  readonly maxTxids: number;
}

/**
 * Defaults: a minute of one-second segments becomes one object, an hour of those another; a merged
 * object holds at most 65,536 transactions (a minute at 1,000 writes/s).
 */
export const COMPACTION_DEFAULTS: CompactionPolicy = Object.freeze({ minSegments: 60, maxTxids: 65_536 });

/** What a compaction pass did. */
export interface CompactionOutcome {
  /** Objects written, each replacing a run of segments. */
  readonly merged: readonly string[];
  /** Segments removed: merged ones, and ones another object covers already (an earlier pass's leftovers). */
  readonly removed: readonly string[];
  /** Segments a live restore lease holds: left for a later pass. */
  readonly held: readonly string[];
}

type Segment = Extract<ParsedKey, { kind: 'segment' }> & { readonly key: string };

/**
 * Merges runs of small segments into larger ones, so a restore reads a few objects instead of one
 * per sync interval. Every transaction's record is kept (point-in-time granularity does not
 * change); only the number of objects shrinks. A run never crosses a snapshot (retention removes
 * whole objects before a snapshot) and each merged object is checked whole before it is uploaded;
 * the small segments are removed only after it is stored, never while a restore's lease holds
 * them, and a segment another object covers (a pass interrupted between the upload and the
 * removal) is removed by the next pass. The planner prefers the wider object when both exist.
 */
export async function compactSegments(
  store: ObjectStore,
  scratchDir: string,
  policy: CompactionPolicy = COMPACTION_DEFAULTS,
  now = Date.now(),
): Promise<CompactionOutcome> {
  if (!Number.isInteger(policy.minSegments) || policy.minSegments < 2 || !(policy.maxTxids >= 2))
    throw new BackupError(
      'ATS_BACKUP_INVALID',
      'compact segments',
      store.url,
      `minSegments must be a whole number >= 2 and maxTxids >= 2 (got ${policy.minSegments}, ${policy.maxTxids})`,
    );
  const keys = await store.list('');
  const byLineage = new Map<string, { segments: Segment[]; snapshots: bigint[] }>();
  for (const key of keys) {
    const parsed = key.startsWith(LINEAGES) ? parseKey(key) : undefined;
    if (parsed === undefined) continue;
    const entry = byLineage.get(parsed.lineageDir) ?? { segments: [], snapshots: [] };
    if (parsed.kind === 'segment') entry.segments.push({ ...parsed, key });
    else entry.snapshots.push(parsed.txid);
    byLineage.set(parsed.lineageDir, entry);
  }
  const leases = await readStoreLeases(store, keys, now);
  const isHeld = heldBy(leases.live);
  const merged: string[] = [];
  const removed: string[] = [];
  const heldBack: string[] = [];
  const drop = async (segments: readonly Segment[]): Promise<void> => {
    const free = segments.filter((s) => !isHeld(s.key)).map((s) => s.key);
    heldBack.push(...segments.filter((s) => isHeld(s.key)).map((s) => s.key));
    if (free.length > 0) await store.remove(free);
    removed.push(...free);
  };
  fs.mkdirSync(scratchDir, { recursive: true });
  for (const [dir, { segments, snapshots }] of byLineage) {
    // Widest first for equal starts, so a covered segment comes after the one covering it.
    segments.sort((a, b) =>
      a.minTxid !== b.minTxid ? (a.minTxid < b.minTxid ? -1 : 1) : a.maxTxid > b.maxTxid ? -1 : 1,
    );
    const covered: Segment[] = [];
    const chain: Segment[] = [];
    for (const s of segments) {
      const last = chain.at(-1);
      if (last !== undefined && s.maxTxid <= last.maxTxid) covered.push(s);
      else chain.push(s);
    }
    await drop(covered);
    for (const run of runs(chain, snapshots, policy)) {
      const key = segmentKey(dir, (run[0] as Segment).minTxid, (run.at(-1) as Segment).maxTxid);
      await mergeRun(store, run, key, scratchDir);
      merged.push(key);
      await drop(run);
    }
  }
  return Object.freeze({ merged, removed, held: heldBack });
}

/** The tier of a segment covering `txids` transactions (see CompactionPolicy.minSegments). */
function tierOf(txids: bigint, base: number): number {
  let tier = 0;
  for (let n = txids; n >= BigInt(base); n /= BigInt(base)) tier++;
  return tier;
}

/** Runs worth merging: contiguous segments of one tier, not across a snapshot, at least `minSegments` of them. */
function runs(
  chain: readonly Segment[],
  snapshots: readonly bigint[],
  policy: CompactionPolicy,
): Segment[][] {
  const out: Segment[][] = [];
  let run: Segment[] = [];
  let txids = 0n;
  const close = (): void => {
    if (run.length >= policy.minSegments) out.push(run);
    run = [];
    txids = 0n;
  };
  for (const s of chain) {
    const size = s.maxTxid - s.minTxid + 1n;
    const last = run.at(-1);
    const crossesSnapshot = last !== undefined && snapshots.some((t) => t >= last.maxTxid && t < s.minTxid);
    if (
      last !== undefined &&
      (s.minTxid !== last.maxTxid + 1n ||
        crossesSnapshot ||
        tierOf(size, policy.minSegments) !== tierOf(last.maxTxid - last.minTxid + 1n, policy.minSegments) ||
        txids + size > BigInt(policy.maxTxids))
    )
      close();
    if (size >= BigInt(policy.maxTxids)) {
      close(); // big already: left as it is
      continue;
    }
    run.push(s);
    txids += size;
  }
  close();
  return out;
}

/** Downloads the run's segments one at a time, writes their records into one object, checks and uploads it. */
async function mergeRun(
  store: ObjectStore,
  run: readonly Segment[],
  key: string,
  scratchDir: string,
): Promise<void> {
  const out = path.join(scratchDir, 'merged.tmp');
  const part = path.join(scratchDir, 'part.tmp');
  fs.rmSync(out, { force: true });
  let writer: ObjectWriter | undefined;
  let first: ObjectHeader | undefined;
  let prev: ObjectHeader | undefined;
  try {
    for (const s of run) {
      fs.rmSync(part, { force: true });
      await store.get(s.key, part);
      const h = checkObject(part);
      if (
        prev !== undefined &&
        (h.minTxid !== prev.maxTxid + 1n ||
          h.preChecksum !== prev.postChecksum ||
          h.lineage !== prev.lineage ||
          h.pageSize !== prev.pageSize)
      )
        throw new BackupError(
          'ATS_BACKUP_CHECKSUM',
          'compact segments',
          `${store.url}/${s.key}`,
          `does not continue the segment before it (txid ${h.minTxid} after ${prev.maxTxid}, checksum ${formatChecksum(h.preChecksum)} after ${formatChecksum(prev.postChecksum)}): left as it is`,
        );
      writer ??= new ObjectWriter(out, h.pageSize);
      const w = writer;
      readObject(
        part,
        (r) => {
          w.record(r);
          return true;
        },
        (pgno, page) => w.page(pgno, page),
      );
      first ??= h;
      prev = h;
    }
    const a = first as ObjectHeader;
    const b = prev as ObjectHeader;
    (writer as ObjectWriter).finish({
      ...b,
      minTxid: a.minTxid,
      minTimeMs: a.minTimeMs,
      preChecksum: a.preChecksum,
    });
    writer = undefined;
    const h = checkObject(out);
    if (h.minTxid !== a.minTxid || h.maxTxid !== b.maxTxid || h.postChecksum !== b.postChecksum)
      throw new BackupError(
        'ATS_BACKUP_CHECKSUM',
        'compact segments',
        out,
        'the merged object does not read back as written',
      );
    await store.put(key, out);
  } finally {
    writer?.abandon();
    fs.rmSync(out, { force: true });
    fs.rmSync(part, { force: true });
  }
}
