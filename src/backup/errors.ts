import { AtsError, type AtsErrorCode } from '../errors/index.js';

export { reasonOf } from '../errors/index.js';

/** Stable codes for every way a backup, verify or restore can fail (meanings in ERROR_CODES). */
export type BackupErrorCode = Extract<AtsErrorCode, `ATS_BACKUP_${string}`>;

/** A failed backup operation: `operation` is the step that failed, `path` the file it was working on. */
export class BackupError extends AtsError {
  override readonly name = 'BackupError';
  declare readonly code: BackupErrorCode;
  readonly operation: string;
  readonly path: string | undefined;
  /** What went wrong, without the operation and path. */
  readonly reason: string;

  constructor(
    code: BackupErrorCode,
    operation: string,
    path: string | undefined,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(code, path ? `${operation} ${path}: ${reason}` : `${operation}: ${reason}`, options);
    this.operation = operation;
    this.path = path;
    this.reason = reason;
  }
}
