import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type FileHash, hashFile } from './catalogue.js';
import { BackupError, reasonOf } from './errors.js';

/** Opens the engine's own read-only connection; it reads nothing until the first statement. */
export function openSource(source: string): Database.Database {
  try {
    return new Database(source, { readonly: true, fileMustExist: true, timeout: 0 });
  } catch (err) {
    throw new BackupError('ATS_BACKUP_SOURCE', 'open source', source, reasonOf(err), { cause: err });
  }
}

/**
 * Creates the empty temporary file with the source's permission bits, so neither SQLite nor a
 * copier creates it with its own. It is the copy, never the source: closing it is safe.
 */
export function createTmp(tmp: string, mode: number): void {
  try {
    fs.closeSync(fs.openSync(tmp, 'wx', mode));
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'create', tmp, reasonOf(err), { cause: err });
  }
}

/**
 * A write error with where it was writing and how much room is left there: SQLite reports a full
 * disk as SQLITE_FULL and a file size limit (EFBIG) as a bare "disk I/O error", cp as ENOSPC/EFBIG.
 */
export function explainWriteError(err: unknown, tmp: string): string {
  const reason = reasonOf(err);
  const code = String((err as { code?: unknown }).code ?? '');
  if (!/^(SQLITE_(FULL|IOERR)|ENOSPC|EFBIG|EDQUOT)/.test(code)) return reason;
  const { bavail, bsize } = fs.statfsSync(path.dirname(tmp));
  const free = bavail * bsize;
  return (
    `${reason} while writing ${tmp} (${(free / 1048576).toFixed(1)} MiB free there; ` +
    'a full disk, a file size limit (ulimit -f) or a failing disk causes this)'
  );
}

/** What {@link finishFile} produced. */
export interface FinishedFile {
  readonly bytes: number;
  /** `performance.now()` when its fsync returned: the copy is durable and self-contained. */
  readonly durableAt: number;
  /**
   * sha256 of the finished file (for the catalogue), hashed by another thread that started once
   * every write to the copy was done: it runs beside the fsync and the verification.
   */
  readonly hash: Promise<FileHash>;
}

/**
 * Marks the copy as a rollback-journal database, so it is one self-contained file that opens
 * without `-wal`/`-shm`, starts hashing it, and fsyncs it. Nothing writes the copy after this
 * (verification opens it read-only), so the hash is of its exact final bytes, read back while they
 * are still in the page cache and alongside the fsync and the verification, instead of in a pass
 * of its own after them.
 */
export function finishFile(tmp: string): FinishedFile {
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
    const hash = hashFile(tmp, { background: true });
    hash.catch(() => {}); // awaited by the engine after verification; this keeps a failure meanwhile from being "unhandled"
    fs.fsyncSync(fd);
    const durableAt = performance.now();
    return { bytes: fs.fstatSync(fd).size, durableAt, hash };
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'fsync', tmp, reasonOf(err), { cause: err });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
