// Public surface of the backup engine. It copies any SQLite file and knows nothing of the store,
// the server or the ticker.
export { runBackup } from './run-backup.js';
export type { BackupResult } from './run-backup.js';
export { BACKUP_DEFAULTS } from './options.js';
export type { BackupOptions, BackupProgress, VerifyMode } from './options.js';
export { verifyDatabase } from './verify.js';
export type { VerifyOutcome } from './verify.js';
export { generationPath } from './rotation.js';
export { BackupError } from './errors.js';
export type { BackupErrorCode } from './errors.js';
export { tryLock, lockOwner } from './file-lock.js';
export type { FileLock } from './file-lock.js';
export { restoreBackup } from './restore.js';
export type { RestoreOptions, RestoreResult } from './restore.js';
