import { AtsError, type AtsErrorCode } from '../errors/index.js';

/** Stable codes for every way a store operation can fail (meanings in ERROR_CODES). */
export type StoreErrorCode = Extract<AtsErrorCode, `ATS_STORE_${string}`>;

/** Where in a put an invalid attestation is. */
export interface StoreErrorDetails {
  /** Position of the offending attestation in the batch (0 for a single one). */
  readonly index?: number | undefined;
  /** The offending field, e.g. 'subjects' or 'attributes.tags'. */
  readonly field?: string | undefined;
  readonly cause?: unknown;
}

/** A failed store operation, with a stable `code`. */
export class StoreError extends AtsError {
  override readonly name = 'StoreError';
  declare readonly code: StoreErrorCode;
  readonly index: number | undefined;
  readonly field: string | undefined;

  constructor(code: StoreErrorCode, message: string, details: StoreErrorDetails = {}) {
    super(code, message, { cause: details.cause });
    this.index = details.index;
    this.field = details.field;
  }
}

/** The store code of a SQLite error code: busy/locked, full, or anything else. */
function storeCode(sqliteCode: string): StoreErrorCode {
  if (sqliteCode.startsWith('SQLITE_BUSY') || sqliteCode.startsWith('SQLITE_LOCKED')) return 'ATS_STORE_BUSY';
  if (sqliteCode === 'SQLITE_FULL' || sqliteCode === 'ENOSPC' || sqliteCode === 'EFBIG')
    return 'ATS_STORE_FULL';
  return 'ATS_STORE_DB';
}

/** Wraps a thrown SQLite or I/O error as a StoreError: `operation path: reason`. */
export function storeFailure(operation: string, file: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = String((err as { code?: unknown } | undefined)?.code ?? '');
  const reason = err instanceof Error ? err.message : String(err);
  return new StoreError(
    storeCode(code),
    `${operation} ${file}: ${code && !reason.includes(code) ? `${code}: ` : ''}${reason}`,
    { cause: err },
  );
}
