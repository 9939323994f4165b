import { BackupError } from './errors.js';
import { type FileLock, tryLock } from './file-lock.js';

/** Path of the lock file guarding the backups of `target`. */
export function lockPath(target: string): string {
  return `${target}.bak.lock`;
}

/** Takes the lock that lets one backup at a time write the generations of `target`. */
export function acquireBackupLock(target: string): FileLock {
  const lock = tryLock(lockPath(target));
  if (!lock)
    throw new BackupError(
      'ATS_BACKUP_LOCKED',
      'lock',
      lockPath(target),
      'another backup of the same database is running',
    );
  return lock;
}
