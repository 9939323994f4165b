/** Stable codes for every way a backup, verify or restore can fail. */
export type BackupErrorCode =
  | 'EINVALID' // bad option or path
  | 'ESOURCE' // source missing, unreadable or not a database
  | 'EDEST' // backup folder missing, not a folder or not writable
  | 'ELOCKED' // another backup of the same target is running
  | 'EBUSY' // the source stayed locked past the busy deadline
  | 'ELOCKBUDGET' // rollback-journal source: copy would block writers too long
  | 'ECOPY' // SQLite or I/O error while copying
  | 'EVERIFY' // the copy failed its integrity check
  | 'EROTATE' // rename or fsync during rotation failed
  | 'ECANCELLED' // cancelled by signal or deadline
  | 'EWORKER' // the copy worker crashed
  | 'EFORMAT' // a continuous-backup object is short, truncated or not one of ours
  | 'ECHECKSUM' // an object's SHA-256, or a restored database's rolling checksum, does not match
  | 'EGAP' // the chain from a snapshot to the target misses a range of transactions
  | 'ENOBACKUP'; // no snapshot or position at the destination covers the target

/** A failed backup operation: `operation` is the step that failed, `path` the file it was working on. */
export class BackupError extends Error {
  override readonly name = 'BackupError';
  readonly code: BackupErrorCode;
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
    super(path ? `${operation} ${path}: ${reason}` : `${operation}: ${reason}`, options);
    this.code = code;
    this.operation = operation;
    this.path = path;
    this.reason = reason;
  }
}

/** The message of any thrown value, for wrapping. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
