import { BackupError } from '../errors.js';
import type { ObjectStore } from './destination.js';
import { LINEAGES, type ParsedKey, parseKey, parseLineageDir } from './object-names.js';
import { decodeHeader, HEADER_BYTES, type ObjectHeader } from './segment-format.js';

/** What to restore: a moment, a position (lineage and txid), or (neither) the newest. */
export interface RestoreTarget {
  readonly atMs?: number | undefined;
  readonly position?: { readonly lineage: string; readonly txid: bigint } | undefined;
}

/** One object of a plan, with its header as listed. */
export interface PlannedObject {
  readonly key: string;
  readonly header: ObjectHeader;
}

/** A snapshot and the contiguous segments after it, up to the target. */
export interface RestorePlan {
  readonly lineage: string;
  readonly snapshot: PlannedObject;
  readonly segments: readonly PlannedObject[];
  /** Apply transactions up to and including this txid... */
  readonly targetTxid: bigint;
  /** ...and (with --at) none seen committed after this moment. */
  readonly atMs: number | undefined;
}

interface Listed {
  readonly key: string;
  readonly parsed: ParsedKey;
}

/** Lineage folders at the destination, oldest first, with their objects in log order. */
export async function listLineages(store: ObjectStore): Promise<Map<string, Listed[]>> {
  const byDir = new Map<string, Listed[]>();
  for (const key of await store.list(LINEAGES)) {
    const parsed = parseKey(key);
    if (parsed === undefined) continue;
    const list = byDir.get(parsed.lineageDir) ?? [];
    list.push({ key, parsed });
    byDir.set(parsed.lineageDir, list);
  }
  return new Map([...byDir.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function headerOf(store: ObjectStore, key: string): Promise<ObjectHeader> {
  return decodeHeader(await store.head(key, HEADER_BYTES), `${store.url}/${key}`);
}

/**
 * Plans a restore: the lineage that was current at the target, its newest snapshot at or before
 * the target, and the contiguous segments from it to the target. Reads only object headers. A
 * missing range on the way is an EGAP error naming it; no object covering the target, ENOBACKUP.
 */
export async function planRestore(store: ObjectStore, target: RestoreTarget): Promise<RestorePlan> {
  const lineages = await listLineages(store);
  const dirs = [...lineages.keys()];
  let dir: string | undefined;
  if (target.position !== undefined) {
    const wanted = target.position.lineage;
    dir = dirs.find((d) => parseLineageDir(d).lineage === wanted);
    if (dir === undefined)
      throw new BackupError(
        'ATS_BACKUP_NO_BACKUP',
        'plan restore',
        store.url,
        `no lineage ${wanted} at the destination`,
      );
  } else if (target.atMs !== undefined) {
    const at = target.atMs;
    dir = dirs.filter((d) => parseLineageDir(d).startMs <= at).at(-1);
    if (dir === undefined)
      throw new BackupError(
        'ATS_BACKUP_NO_BACKUP',
        'plan restore',
        store.url,
        dirs.length === 0
          ? 'no continuous backup at the destination'
          : `nothing to restore at ${new Date(at).toISOString()}: the oldest backup starts at ${new Date(parseLineageDir(dirs[0] as string).startMs).toISOString()}`,
      );
  } else {
    dir = dirs.at(-1);
    if (dir === undefined)
      throw new BackupError(
        'ATS_BACKUP_NO_BACKUP',
        'plan restore',
        store.url,
        'no continuous backup at the destination',
      );
  }
  const objects = lineages.get(dir) ?? [];
  const { lineage } = parseLineageDir(dir);
  const wantedTxid = target.position?.txid;
  const at = target.atMs;

  // The newest snapshot at or before the target.
  const snapshots = objects.filter((o) => o.parsed.kind === 'snapshot').reverse();
  let snapshot: PlannedObject | undefined;
  for (const o of snapshots) {
    if (o.parsed.kind !== 'snapshot') continue;
    if (wantedTxid !== undefined && o.parsed.txid > wantedTxid) continue;
    const header = await headerOf(store, o.key);
    if (at !== undefined && header.maxTimeMs > at) continue;
    snapshot = { key: o.key, header };
    break;
  }
  if (snapshot === undefined)
    throw new BackupError(
      'ATS_BACKUP_NO_BACKUP',
      'plan restore',
      store.url,
      `lineage ${lineage} has no snapshot at or before ${wantedTxid !== undefined ? `txid ${wantedTxid}` : at !== undefined ? new Date(at).toISOString() : 'its end'}`,
    );

  // Contiguous segments after it.
  const segments: PlannedObject[] = [];
  let next = snapshot.header.maxTxid + 1n;
  let lastTime = snapshot.header.maxTimeMs;
  const candidates = objects
    .map((o) => o.parsed)
    .filter((p): p is Extract<ParsedKey, { kind: 'segment' }> => p.kind === 'segment' && p.maxTxid >= next)
    .sort((a, b) =>
      a.minTxid < b.minTxid ? -1 : a.minTxid > b.minTxid ? 1 : a.maxTxid > b.maxTxid ? -1 : 1,
    );
  const keyOf = new Map(objects.map((o) => [o.parsed, o.key]));
  for (const p of candidates) {
    if (wantedTxid !== undefined && next > wantedTxid) break;
    if (p.maxTxid < next) continue; // covered by an object already planned
    const key = keyOf.get(p) as string;
    if (p.minTxid > next) {
      throw new BackupError(
        'ATS_BACKUP_GAP',
        'plan restore',
        store.url,
        `lineage ${lineage} misses transactions ${next}..${p.minTxid - 1n} (between ${new Date(lastTime).toISOString()} and the segment ${key}): refusing to restore an older database than asked`,
      );
    }
    const header = await headerOf(store, key);
    if (at !== undefined && header.minTimeMs > at) break;
    segments.push({ key, header });
    next = p.maxTxid + 1n;
    lastTime = header.maxTimeMs;
  }
  const reached = next - 1n;
  if (wantedTxid !== undefined && reached < wantedTxid)
    throw new BackupError(
      'ATS_BACKUP_GAP',
      'plan restore',
      store.url,
      `lineage ${lineage} has transactions up to ${reached} only; ${reached + 1n}..${wantedTxid} are not at the destination`,
    );
  return {
    lineage,
    snapshot,
    segments,
    targetTxid: wantedTxid ?? reached,
    atMs: at,
  };
}

/** One lineage as `ats backups --from` shows it. */
export interface LineageSummary {
  readonly lineage: string;
  readonly startedAt: string;
  readonly snapshots: readonly { readonly txid: string; readonly at: string; readonly pages: number }[];
  /** Transactions covered by contiguous segments from the oldest snapshot ('' when none). */
  readonly continuous:
    | { readonly fromTxid: string; readonly toTxid: string; readonly from: string; readonly to: string }
    | undefined;
  /** Any moment in here restores; positions are `<lineage>/<txid>`. */
  readonly restorable: { readonly from: string; readonly to: string; readonly newestPosition: string };
  /** Missing ranges of transactions after the oldest snapshot (restores beyond them fail with EGAP). */
  readonly gaps: readonly string[];
}

/** Every lineage at the destination, oldest first (reads object headers only). */
export async function describeContinuous(store: ObjectStore): Promise<LineageSummary[]> {
  const out: LineageSummary[] = [];
  for (const [dir, objects] of await listLineages(store)) {
    const { lineage, startMs } = parseLineageDir(dir);
    const snapshots: { txid: string; at: string; pages: number }[] = [];
    let first: ObjectHeader | undefined;
    for (const o of objects) {
      if (o.parsed.kind !== 'snapshot') continue;
      const h = await headerOf(store, o.key);
      first ??= h;
      snapshots.push({
        txid: String(h.maxTxid),
        at: new Date(h.maxTimeMs).toISOString(),
        pages: h.commitPages,
      });
    }
    const segs = objects
      .map((o) => o.parsed)
      .filter((p): p is Extract<ParsedKey, { kind: 'segment' }> => p.kind === 'segment')
      .sort((a, b) => (a.minTxid < b.minTxid ? -1 : 1));
    const keyOf = new Map(objects.map((o) => [o.parsed, o.key]));
    const gaps: string[] = [];
    let next = first === undefined ? 0n : first.maxTxid + 1n;
    let lastSeg: Extract<ParsedKey, { kind: 'segment' }> | undefined;
    let firstSeg: Extract<ParsedKey, { kind: 'segment' }> | undefined;
    for (const p of segs) {
      if (p.maxTxid < next) continue;
      if (p.minTxid > next) gaps.push(`${next}..${p.minTxid - 1n}`);
      firstSeg ??= p;
      lastSeg = p;
      next = p.maxTxid + 1n;
    }
    const firstHead = firstSeg && (await headerOf(store, keyOf.get(firstSeg) as string));
    const lastHead = lastSeg && (await headerOf(store, keyOf.get(lastSeg) as string));
    const newestSnapshot = snapshots.at(-1);
    const endTxid = lastHead?.maxTxid ?? (newestSnapshot ? BigInt(newestSnapshot.txid) : 0n);
    const endTime = lastHead ? new Date(lastHead.maxTimeMs).toISOString() : (newestSnapshot?.at ?? '');
    out.push({
      lineage,
      startedAt: new Date(startMs).toISOString(),
      snapshots,
      continuous:
        firstHead && lastHead
          ? {
              fromTxid: String(firstHead.minTxid),
              toTxid: String(lastHead.maxTxid),
              from: new Date(firstHead.minTimeMs).toISOString(),
              to: new Date(lastHead.maxTimeMs).toISOString(),
            }
          : undefined,
      restorable: { from: snapshots[0]?.at ?? '', to: endTime, newestPosition: `${lineage}/${endTxid}` },
      gaps,
    });
  }
  return out;
}
