import Database from 'better-sqlite3';
import { BackupError, reasonOf } from './errors.js';

/** A held backup lock. */
export interface BackupLock {
  release(): void;
}

/** Path of the lock file guarding the backups of `target`. */
export function lockPath(target: string): string {
  return `${target}.bak.lock`;
}

/**
 * Takes the lock that lets one backup at a time write the generations of `target`, across
 * threads and processes. It is SQLite's own EXCLUSIVE lock on a small lock file: a POSIX record
 * lock, which the kernel drops when its holder dies, so a crashed holder cannot leave it stuck.
 */
export function acquireBackupLock(target: string): BackupLock {
  const file = lockPath(target);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: 0 });
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db?.close();
    const code = String((err as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      throw new BackupError('ELOCKED', 'lock', file, 'another backup of the same database is running');
    }
    throw new BackupError('EDEST', 'lock', file, reasonOf(err), { cause: err });
  }
  const held = db;
  return {
    release() {
      if (held.open) held.close();
    },
  };
}
