import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { checkNotNewer, migrate } from './migrations.js';

// Only while opening and migrating, before the service answers anything: then 0 (see write-gate.ts).
const OPEN_BUSY_TIMEOUT_MS = 5000;
/** The WAL file is cut back to this size whenever a commit restarts it after a full checkpoint. */
export const WAL_SIZE_LIMIT_BYTES = 64 << 20;

/**
 * Opens (creating folder and file on first use) the database at `file`, sets the connection up and
 * brings its schema up to date. A database from a newer ats is refused before anything changes it.
 */
export function openDatabase(file: string): Database.Database {
  checkStorePath(file);
  let db: Database.Database | undefined;
  try {
    // Only its owner may read the database: folders it creates are 0700, a new file 0600 (SQLite
    // gives its -wal and -shm the database's mode), whatever the umask.
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    createDatabaseFile(file);
    db = new Database(file, { timeout: OPEN_BUSY_TIMEOUT_MS });
    checkNotNewer(db, file);
    const mode = String(db.pragma('journal_mode = WAL', { simple: true }));
    if (mode !== 'wal')
      throw new StoreError(
        'ATS_STORE_OPEN',
        `open ${file}: cannot switch to WAL journal mode (still ${mode})`,
      );
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Commits never checkpoint: a separate job does it off the request path.
    db.pragma('wal_autocheckpoint = 0');
    // Bounds the WAL file on disk (it grows while a backup holds its snapshot) without the
    // writer-blocking TRUNCATE checkpoint: SQLite trims it when a commit restarts the log.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    migrate(db, file);
    // From now on a lock held elsewhere fails a statement at once instead of freezing the event loop
    // in SQLite's busy wait; the write gate retries writes on a timer.
    db.pragma('busy_timeout = 0');
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError('ATS_STORE_OPEN', `open ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Creates `file` empty with mode 0600 unless it exists (an empty file is a new SQLite database).
 * Call it before any connection opens the file: it closes the descriptor it opened.
 */
export function createDatabaseFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  // No SQLite connection has this new file open yet, so closing our descriptor drops no lock.
  fs.fchmodSync(fd, 0o600); // the umask may have taken bits away, never added: this is exact
  fs.closeSync(fd);
}

const NOT_A_FILE: readonly [(s: fs.Stats) => boolean, string][] = [
  [(s) => s.isDirectory(), 'a folder'],
  [(s) => s.isCharacterDevice(), 'a character device'],
  [(s) => s.isBlockDevice(), 'a block device'],
  [(s) => s.isFIFO(), 'a FIFO (named pipe)'],
  [(s) => s.isSocket(), 'a socket'],
];

/**
 * Refuses a path SQLite must not be given: one with a NUL (SQLite would cut it there), or one
 * naming a folder, device, FIFO or socket (opening a FIFO would hang). Creates nothing.
 */
export function checkStorePath(file: string): void {
  if (file.includes('\0'))
    throw new StoreError('ATS_STORE_INVALID', `store path ${JSON.stringify(file)} contains a NUL character`);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return; // a new database
    throw new StoreError('ATS_STORE_OPEN', `open ${file}: ${code ?? (err as Error).message}`, { cause: err });
  }
  const kind = NOT_A_FILE.find(([is]) => is(stat))?.[1];
  if (kind !== undefined)
    throw new StoreError(
      'ATS_STORE_INVALID',
      `store path ${file} is ${kind}, not a database file: give the path of a database file (it is created if missing)`,
    );
}
