import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import type { BackupProgress, VerifyMode } from './options.js';
import { type VerifyOutcome, verifyDatabase } from './verify.js';

/** What the copy worker is asked to do. */
export interface CopyRequest {
  readonly source: string;
  /** Temporary file to create (it must not exist); the caller renames it into place. */
  readonly tmp: string;
  /** Permission bits of the new file: those of the source, so a backup is never more readable. */
  readonly mode: number;
  readonly verify: VerifyMode;
  readonly busyTimeoutMs: number;
  readonly maxReadLockMs: number;
  readonly stepPages: number;
}

/** What one snapshot copy produced. */
export interface CopyResult {
  readonly pages: number;
  readonly pageSize: number;
  readonly bytes: number;
  readonly journalMode: string;
  readonly busyRetries: number;
  /** How long the copy took: the source snapshot (and, in rollback-journal mode, its read lock) is held exactly this long. */
  readonly copyMs: number;
  readonly verify: VerifyOutcome;
}

/** How the copy reports progress and learns it was cancelled. */
export interface CopyHooks {
  cancelled(): boolean;
  progress(progress: BackupProgress): void;
}

const STEP_BYTES = 8 << 20;
const BUSY_BACKOFF_MS = 5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Copies one consistent snapshot of `source` into `tmp`, fsyncs and verifies it.
 *
 * The copy uses SQLite's backup API from its own read-only connection, but first opens a read
 * transaction on that connection and holds it to the end. The backup steps then all read that one
 * snapshot: commits by other connections never restart the copy (a plain stepped backup restarts
 * from page 1 on every foreign commit and never finishes under sustained writes). In WAL mode the
 * held snapshot does not block writers; in rollback-journal mode it does, so the hold is capped at
 * `maxReadLockMs`.
 */
export async function copySnapshot(req: CopyRequest, hooks: CopyHooks): Promise<CopyResult> {
  const src = openSource(req.source);
  try {
    createTmp(req.tmp, req.mode);
    const { busyRetries, journalMode, pageSize } = beginSnapshot(src, req, hooks);
    const lockedAt = performance.now();
    const stepPages = req.stepPages || Math.max(1, Math.floor(STEP_BYTES / pageSize));
    const rollbackJournal = journalMode !== 'wal';
    let pages = 0;
    try {
      const done = await src.backup(req.tmp, {
        progress({ totalPages, remainingPages }) {
          if (hooks.cancelled())
            throw new BackupError('ATS_BACKUP_CANCELLED', 'copy', req.source, 'cancelled');
          const held = performance.now() - lockedAt;
          if (rollbackJournal && held > req.maxReadLockMs) {
            throw new BackupError(
              'ATS_BACKUP_LOCK_BUDGET',
              'copy',
              req.source,
              `rollback-journal source: the copy held its read lock (which blocks writers) for ${Math.round(held)} ms, ` +
                `over the ${req.maxReadLockMs} ms budget; switch the database to WAL (PRAGMA journal_mode=WAL) or raise maxReadLockMs`,
            );
          }
          hooks.progress({ phase: 'copy', pagesDone: totalPages - remainingPages, pagesTotal: totalPages });
          faultPoint('copy-step');
          return stepPages;
        },
      });
      pages = done.totalPages;
    } catch (err) {
      throw err instanceof BackupError
        ? err
        : new BackupError('ATS_BACKUP_COPY', 'copy', req.source, explainWriteError(err, req.tmp), {
            cause: err,
          });
    } finally {
      if (src.inTransaction) src.exec('COMMIT');
    }
    const copyMs = Math.round(performance.now() - lockedAt);
    hooks.progress({ phase: 'copy', pagesDone: pages, pagesTotal: pages });
    faultPoint('copy-done');
    const bytes = finishFile(req.tmp);
    hooks.progress({ phase: 'verify', pagesDone: pages, pagesTotal: pages });
    const verify = verifyDatabase(req.tmp, req.verify);
    faultPoint('verified');
    return { pages, pageSize, bytes, journalMode, busyRetries, copyMs, verify };
  } finally {
    src.close();
  }
}

/**
 * SQLite reports a full disk as SQLITE_FULL and a file size limit (EFBIG) as a bare "disk I/O
 * error": say where it was writing and how much room is left there.
 */
function explainWriteError(err: unknown, tmp: string): string {
  const reason = reasonOf(err);
  if (!/^SQLITE_(FULL|IOERR)/.test(String((err as { code?: unknown }).code ?? ''))) return reason;
  const { bavail, bsize } = fs.statfsSync(path.dirname(tmp));
  const free = bavail * bsize;
  return (
    `${reason} while writing ${tmp} (${(free / 1048576).toFixed(1)} MiB free there; ` +
    'a full disk, a file size limit (ulimit -f) or a failing disk causes this)'
  );
}

function openSource(source: string): Database.Database {
  try {
    // Opening reads nothing; the first statement (in beginSnapshot's retry loop) does.
    return new Database(source, { readonly: true, fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new BackupError('ATS_BACKUP_SOURCE', 'open source', source, reasonOf(err), { cause: err });
  }
}

/**
 * Creates the empty temporary file with the source's permission bits, so SQLite never creates it
 * with its own. Closed at once: closing a second descriptor later would drop SQLite's POSIX locks.
 */
function createTmp(tmp: string, mode: number): void {
  try {
    fs.closeSync(fs.openSync(tmp, 'wx', mode));
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'create', tmp, reasonOf(err), { cause: err });
  }
}

/** Opens the read transaction that pins the snapshot, backing off 5 ms on BUSY/LOCKED up to the deadline. */
function beginSnapshot(db: Database.Database, req: CopyRequest, hooks: CopyHooks) {
  const deadline = performance.now() + req.busyTimeoutMs;
  for (let busyRetries = 0; ; busyRetries++) {
    try {
      // The copy streams every page once: a small cache is enough and keeps memory bounded.
      db.pragma('cache_size = -4096');
      db.exec('BEGIN');
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      const journalMode = String(db.pragma('journal_mode', { simple: true }));
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      return { busyRetries, journalMode, pageSize };
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      const code = String((err as { code?: unknown }).code ?? '');
      if (!code.startsWith('SQLITE_BUSY') && !code.startsWith('SQLITE_LOCKED')) {
        throw new BackupError('ATS_BACKUP_SOURCE', 'read source', req.source, reasonOf(err), { cause: err });
      }
      if (hooks.cancelled())
        throw new BackupError('ATS_BACKUP_CANCELLED', 'read source', req.source, 'cancelled');
      if (performance.now() >= deadline) {
        throw new BackupError(
          'ATS_BACKUP_BUSY',
          'read source',
          req.source,
          `still locked by another connection after ${req.busyTimeoutMs} ms (${busyRetries} retries)`,
        );
      }
      Atomics.wait(sleeper, 0, 0, BUSY_BACKOFF_MS);
    }
  }
}

/**
 * Marks the copy as a rollback-journal database, so it is one self-contained file that opens
 * without `-wal`/`-shm`, then fsyncs it. Returns its size.
 */
function finishFile(tmp: string): number {
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'r+');
    const header = Buffer.alloc(100);
    const read = fs.readSync(fd, header, 0, 100, 0);
    if (read === 100 && header.toString('latin1', 0, 16) === 'SQLite format 3\0') {
      header[18] = 1; // file format write version: legacy (rollback journal)
      header[19] = 1; // file format read version
      fs.writeSync(fd, header, 18, 2, 18);
    }
    fs.fsyncSync(fd);
    return fs.fstatSync(fd).size;
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'fsync', tmp, reasonOf(err), { cause: err });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
