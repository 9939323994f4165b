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
    const shortage = code.startsWith('SQLITE_CANTOPEN') ? descriptorShortage() : undefined;
    throw new BackupError('ATS_BACKUP_DEST', 'lock', file, shortage ?? reasonOf(err), { cause: err });
  }
  if (owner !== undefined) writePrivate(`${file}.owner`, `${owner}\n`);
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

/**
 * Why SQLite could not open a file when the process is out of file descriptors (SQLite says only
 * SQLITE_CANTOPEN): opening /dev/null tells EMFILE or ENFILE apart from a real path problem.
 */
function descriptorShortage(): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync('/dev/null', 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE')
      return `${code}: too many open files (the ${code === 'EMFILE' ? 'process' : 'system'} is at its limit of open file descriptors)`;
    return undefined;
  }
  fs.closeSync(fd); // /dev/null, never a database: closing it drops no SQLite lock
  return undefined;
}

/** Writes a small file only its owner can read (0600), whatever the umask or an older file's mode. */
function writePrivate(file: string, text: string): void {
  fs.writeFileSync(file, text, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}
