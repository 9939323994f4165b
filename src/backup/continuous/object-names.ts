/**
 * Where continuous-backup objects live under a destination, named so that listing order is log
 * order: `lineages/<start ms, 13 digits>-<lineage>/snapshots/<txid, 16 hex>.snap` and
 * `.../segments/<first txid>-<last txid>.seg` (both zero-padded).
 */
export const LINEAGES = 'lineages/';

const hex16 = (n: bigint): string => n.toString(16).padStart(16, '0');

/** The folder of one lineage. */
export function lineageKey(startMs: number, lineage: string): string {
  return `${LINEAGES}${String(startMs).padStart(13, '0')}-${lineage}/`;
}

export function snapshotKey(lineageDir: string, txid: bigint): string {
  return `${lineageDir}snapshots/${hex16(txid)}.snap`;
}

export function segmentKey(lineageDir: string, minTxid: bigint, maxTxid: bigint): string {
  return `${lineageDir}segments/${hex16(minTxid)}-${hex16(maxTxid)}.seg`;
}

/** What a key names, or undefined for a key that is not ours. */
export type ParsedKey =
  | { readonly kind: 'snapshot'; readonly lineageDir: string; readonly txid: bigint }
  | {
      readonly kind: 'segment';
      readonly lineageDir: string;
      readonly minTxid: bigint;
      readonly maxTxid: bigint;
    };

const KEY =
  /^(lineages\/(\d{13})-([0-9a-f]{32})\/)(?:snapshots\/([0-9a-f]{16})\.snap|segments\/([0-9a-f]{16})-([0-9a-f]{16})\.seg)$/;

export function parseKey(key: string): ParsedKey | undefined {
  const m = KEY.exec(key);
  if (m === null) return undefined;
  const lineageDir = m[1] ?? '';
  if (m[4] !== undefined) return { kind: 'snapshot', lineageDir, txid: BigInt(`0x${m[4]}`) };
  return { kind: 'segment', lineageDir, minTxid: BigInt(`0x${m[5]}`), maxTxid: BigInt(`0x${m[6]}`) };
}

/** The lineage id (32 hex digits) and start time of a lineage folder. */
export function parseLineageDir(dir: string): { startMs: number; lineage: string } {
  const m = /^lineages\/(\d{13})-([0-9a-f]{32})\/$/.exec(dir);
  return { startMs: Number(m?.[1] ?? 0), lineage: m?.[2] ?? '' };
}
