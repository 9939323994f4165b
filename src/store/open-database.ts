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
  let db: Database.Database | undefined;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
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
