/** Stable codes for every way a store operation can fail. */
export type StoreErrorCode =
  | 'EINVALID' // bad input: attestation, query, limits or path
  | 'EOPEN' // the database could not be created, opened or migrated
  | 'ESCHEMA' // the database was written by a newer ats
  | 'EBUSY' // another connection held the write lock longer than a write waits (the write gate's wait)
  | 'EWALCAP' // writes are paused: the WAL is over its cap and cannot be checkpointed yet (backpressure)
  | 'EFULL' // the disk is full (SQLITE_FULL, ENOSPC): nothing was written
  | 'EDB' // any other SQLite or I/O error
  | 'ECLOSED'; // the store was used after close()

/** Where in a put an invalid attestation is. */
export interface StoreErrorDetails {
  /** Position of the offending attestation in the batch (0 for a single one). */
  readonly index?: number | undefined;
  /** The offending field, e.g. 'subjects' or 'attributes.tags'. */
  readonly field?: string | undefined;
  readonly cause?: unknown;
}

/** A failed store operation, with a stable `code`. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly index: number | undefined;
  readonly field: string | undefined;

  constructor(code: StoreErrorCode, message: string, details: StoreErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.index = details.index;
    this.field = details.field;
  }
}

/** Wraps a thrown SQLite or I/O error as a StoreError: `operation path: reason`. */
export function storeFailure(operation: string, file: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  const reason = err instanceof Error ? err.message : String(err);
  const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  const full = code === 'SQLITE_FULL' || code === 'ENOSPC' || /\bENOSPC\b/.test(reason);
  return new StoreError(
    busy ? 'EBUSY' : full ? 'EFULL' : 'EDB',
    `${operation} ${file}: ${code && !reason.includes(code) ? `${code}: ` : ''}${reason}`,
    { cause: err },
  );
}
