import fs from 'node:fs';
import Database from 'better-sqlite3';
import { BackupError, reasonOf } from './errors.js';

/** A held lock; `release()` is safe to call twice. */
export interface FileLock {
  release(): void;
}

/**
 * Tries to take an exclusive lock on `file` across threads and processes; undefined when someone
 * holds it. It is SQLite's own EXCLUSIVE lock on a small lock file: a POSIX record lock, which the
 * kernel drops when its holder dies, so a crashed holder cannot leave it stuck. When `owner` is
 * given it is written to `<file>.owner` for {@link lockOwner} to report.
 */
export function tryLock(file: string, owner?: string): FileLock | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: 0 });
    db.pragma('journal_mode = MEMORY'); // it never writes: no -journal for a crash to leave behind
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db?.close();
    const code = String((err as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return undefined;
    throw new BackupError('ATS_BACKUP_DEST', 'lock', file, reasonOf(err), { cause: err });
  }
  if (owner !== undefined) fs.writeFileSync(`${file}.owner`, `${owner}\n`);
  const held = db;
  return {
    release() {
      if (!held.open) return;
      if (owner !== undefined) fs.rmSync(`${file}.owner`, { force: true });
      held.close();
    },
  };
}

/** Who holds the lock on `file`, as its holder wrote it; undefined if unknown. */
export function lockOwner(file: string): string | undefined {
  try {
    return fs.readFileSync(`${file}.owner`, 'utf8').trim() || undefined;
  } catch {
    return undefined; // no owner file: the holder did not say
  }
}
