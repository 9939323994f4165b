/**
 * What the HTTP API needs of continuous WAL shipping to tell a client when its write is off-site,
 * declared here so that the server depends on no concrete job (pulse's `ContinuousJob` satisfies
 * it structurally).
 */
export interface ContinuousService {
  /** The continuous destination, for the server log (never sent to clients). */
  readonly url: string;
  /** The position of the newest committed transaction; undefined while shipping has not started. */
  commitPosition(): OffsitePosition | undefined;
  /**
   * Answers once `position` is durable at the destination, or at the latest when `timeoutMs`
   * passes; a failed upload, the job stopping or `signal` aborting answer earlier. Never rejects.
   */
  waitOffsite(
    position: OffsitePosition,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<OffsiteWaitOutcome>;
  /** Where shipping is, for /healthz; undefined before it started. */
  status(): ContinuousStatusRecord | undefined;
}

/** The shipper's state, as far as the server reads it. */
export interface ContinuousStatusRecord {
  readonly lineage: string;
  /** Last transaction uploaded. */
  readonly uploadedTxid: bigint;
  /** Why the last sync failed, while it keeps failing (server log only: it may hold paths). */
  readonly lastError: string | undefined;
}

/** A transaction of a lineage, written `<lineage>/<txid>` (as `ats backups` prints and `ats restore --position` takes). */
export interface OffsitePosition {
  readonly lineage: string;
  readonly txid: bigint;
}

/** How a wait ended. */
export type OffsiteWaitOutcome =
  | { readonly kind: 'offsite'; readonly uploaded: OffsitePosition }
  | { readonly kind: 'timeout'; readonly lastError: string | undefined }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'unknown'; readonly reason: string };

/** `<lineage>/<txid>`. */
export function formatPosition(p: OffsitePosition): string {
  return `${p.lineage}/${p.txid}`;
}

/** The syntax of a position: 32 hex digits, a slash, a transaction id from 1. */
export const POSITION_PATTERN = '^[0-9a-f]{32}/[1-9][0-9]{0,18}$';

/** Parses a position the schema already matched. */
export function parsePosition(text: string): OffsitePosition {
  const [lineage, txid] = text.split('/');
  return { lineage: lineage as string, txid: BigInt(txid as string) };
}
