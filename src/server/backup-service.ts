/**
 * What the HTTP API needs of the periodic backup, declared here so that the server depends on no
 * concrete job (pulse's `BackupJob` satisfies it structurally). The result and file records are
 * passed through to clients as JSON, so only the fields the server reads are named.
 */
export interface BackupService {
  /** 0 when periodic backups are off (a backup can still be started). */
  readonly intervalSeconds: number;
  readonly running: boolean;
  /** Epoch milliseconds of the next periodic backup, if one is scheduled. */
  readonly nextDueAt: number | undefined;
  readonly last: BackupRunRecord | undefined;
  readonly lastFailure: object | undefined;
  /** The generations on disk, newest first. */
  files(): readonly BackupFileRecord[];
  /** Starts a backup now; false when one is already running. */
  start(): boolean;
  on(event: 'success', listener: (result: BackupRunRecord) => void): unknown;
  on(event: 'failure', listener: (failure: unknown) => void): unknown;
}

/** A finished backup, as far as the server reads it. */
export interface BackupRunRecord {
  readonly durationMs: number;
  readonly bytes: number;
}

/** One backup generation on disk, as far as the server reads it. */
export interface BackupFileRecord {
  readonly modifiedAt: string;
  /** When it was taken, when recorded (preferred over the file's mtime). */
  readonly createdAt?: string | undefined;
}
