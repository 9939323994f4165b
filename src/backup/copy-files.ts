import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
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

/** What {@link finishFile} produced: the finished copy's size, its sha256, and when it became durable. */
export interface FinishedFile {
  readonly bytes: number;
  /** sha256 of the finished file as read back from it, hex. */
  readonly checksum: string;
  /** `performance.now()` when its fsync completed. */
  readonly durableAt: number;
  /** How long hashing it took (it runs while the fsync does). */
  readonly checksumMs: number;
}

const HASH_CHUNK_BYTES = 4 << 20;

/**
 * Marks the copy as a rollback-journal database, so it is one self-contained file that opens
 * without `-wal`/`-shm`, fsyncs it, and hashes it (sha256, for the catalogue) while the fsync runs:
 * every write to the copy is done by then, so the hash is of its exact final bytes, read back from
 * the file while they are still in the page cache instead of in a second pass after verification.
 */
export async function finishFile(tmp: string): Promise<FinishedFile> {
  let fd: number | undefined;
  let synced: Promise<void> | undefined;
  try {
    fd = fs.openSync(tmp, 'r+');
    const header = Buffer.alloc(100);
    const read = fs.readSync(fd, header, 0, 100, 0);
    if (read === 100 && header.toString('latin1', 0, 16) === 'SQLite format 3\0') {
      header[18] = 1; // file format write version: legacy (rollback journal)
      header[19] = 1; // file format read version
      fs.writeSync(fd, header, 18, 2, 18);
    }
    const bytes = fs.fstatSync(fd).size;
    let durableAt: number | undefined;
    const syncFd = fd;
    // In the thread pool, while this thread hashes; the yields below let its completion be timed.
    synced = new Promise<void>((resolve, reject) =>
      fs.fsync(syncFd, (err) => {
        durableAt = performance.now();
        if (err) reject(err);
        else resolve();
      }),
    );
    synced.catch(() => {}); // awaited below; this keeps an early failure from being "unhandled"
    const hashStarted = performance.now();
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    let hashed = 0;
    while (hashed < bytes) {
      const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, bytes - hashed), hashed);
      if (n === 0) break;
      hash.update(chunk.subarray(0, n));
      hashed += n;
      if (durableAt === undefined) await new Promise((resolve) => setImmediate(resolve));
    }
    const checksumMs = Math.round(performance.now() - hashStarted);
    await synced;
    if (hashed !== bytes) throw new Error(`the file ended at byte ${hashed} of ${bytes} while it was hashed`);
    return { bytes, checksum: hash.digest('hex'), durableAt: durableAt as number, checksumMs };
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'fsync', tmp, reasonOf(err), { cause: err });
  } finally {
    await synced?.catch(() => {}); // never close the descriptor under a pending fsync
    if (fd !== undefined) fs.closeSync(fd);
  }
}
