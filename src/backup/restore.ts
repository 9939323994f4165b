import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { checksumOf } from './catalogue.js';
import { copyInWorker } from './copy-in-worker.js';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import { type FileId, fileId, processesWithOpen, sameFile } from './file-identity.js';
import { fsyncDir, installFile } from './install.js';
import { startChildLineage } from './lineage.js';
import type { BackupProgress } from './options.js';
import { requireFile } from './path-checks.js';
import { type VerifyOutcome, verifyDatabase } from './verify.js';

/** Options of {@link restoreBackup}. */
export interface RestoreOptions {
  /** The backup file to restore. */
  readonly from: string;
  /** The database file to replace (it may not exist). */
  readonly database: string;
  /** Check of the backup before anything is touched, and of the copy before it is put in place. */
  readonly verify: 'quick' | 'full';
  /** sha256 the backup had when it was taken (from its catalogue record): a mismatch refuses it. */
  readonly checksum?: string | undefined;
  /** Honoured up to the rename that puts the copy in place. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BackupProgress) => void;
}

/** What a restore did. */
export interface RestoreResult {
  readonly database: string;
  readonly from: string;
  /** Where the replaced database now is; undefined when there was none. */
  readonly keptAs: string | undefined;
  readonly bytes: number;
  readonly pages: number;
  readonly verify: VerifyOutcome;
  readonly durationMs: number;
}

/**
 * Puts a verified copy of a backup in place of a database.
 *
 * 1. The backup is checked (shape, then quick_check or integrity_check) and refused if bad, or if
 *    it is the database itself under any name (same device and inode).
 * 2. The database is taken: refused (ATS_BACKUP_IN_USE) while any other process has it open (/proc) or any
 *    other connection holds it (SQLite's own locks, asked with no busy wait); a WAL database is
 *    switched to rollback-journal mode, which checkpoints its WAL into the main file and removes
 *    `-wal`/`-shm`, so the main file alone is the complete database; then an EXCLUSIVE lock is
 *    held to the end, so no one can start using it meanwhile.
 * 3. The backup is copied through SQLite's backup API (WAL included) to `<db>.restore.tmp`, given
 *    a new lineage whose parent is the backup's, fsynced and checked again: what is renamed in is
 *    exactly what was checked.
 * 4. The database is hard-linked to `<db>.pre-restore-<time>.tmp`, the copy renamed over the
 *    database, the link renamed to `<db>.pre-restore-<time>`. At every instant the database path
 *    is the complete old database or the complete restored one; the kept copy gets its final name
 *    only once it no longer shares its inode with the live file ({@link finishInterruptedRestore}
 *    settles a link a crash left).
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const from = path.resolve(opts.from);
  const database = path.resolve(opts.database);
  const tmp = `${database}.restore.tmp`;
  const stat = await requireFile(from, 'restore from');
  if (from === database || sameFile(fileId(from), fileId(database)))
    throw new BackupError(
      'ATS_BACKUP_INVALID',
      'restore',
      from,
      `the backup is the database ${database} itself`,
    );
  const checked = withoutNewSidecars(from, () => verifyDatabase(from, opts.verify));
  if (!checked.ok) {
    throw new BackupError(
      'ATS_BACKUP_VERIFY',
      'restore from',
      from,
      `the backup fails ${opts.verify}_check (${checked.problems.slice(0, 2).join('; ')}); nothing was changed`,
    );
  }
  if (opts.checksum !== undefined && (await checksumOf(from)) !== opts.checksum) {
    throw new BackupError(
      'ATS_BACKUP_VERIFY',
      'restore from',
      from,
      `the backup does not match the sha256 recorded when it was taken (${opts.checksum.slice(0, 12)}...): it changed on disk since; nothing was changed`,
    );
  }
  await finishInterruptedRestore(database);
  const cancelled = (): void => {
    if (opts.signal?.aborted)
      throw new BackupError('ATS_BACKUP_CANCELLED', 'restore', database, 'cancelled; nothing was changed');
  };
  const current = fileId(database);
  const mode = (await fsp.stat(database).catch(() => stat)).mode & 0o777;
  const held = current ? takeDatabase(database, current) : undefined;
  let pending: string | undefined;
  let installed = false;
  try {
    faultPoint('restore-taken');
    await fsp.rm(tmp, { force: true }); // left by an interrupted restore
    await fsp.rm(`${tmp}-journal`, { force: true });
    const copy = await withoutNewSidecarsAsync(from, () =>
      copyInWorker(
        {
          source: from,
          tmp,
          mode,
          verify: 'off',
          busyTimeoutMs: 10_000,
          maxReadLockMs: 3_600_000, // the lock is on the backup file, which no one writes
          stepPages: 0,
          engine: 'backup-api', // restore copies through SQLite (issue 12); a backup is never in WAL mode
        },
        { signal: opts.signal, onProgress: opts.onProgress },
      ),
    );
    stampLineage(tmp);
    await fsp.chmod(tmp, mode); // SQLite and umask must not widen or narrow the replaced file's mode
    const copied = verifyDatabase(tmp, opts.verify);
    if (!copied.ok)
      throw new BackupError(
        'ATS_BACKUP_VERIFY',
        'restore copy',
        tmp,
        `the copy fails ${opts.verify}_check: ${copied.problems[0] ?? ''}`,
      );
    faultPoint('restore-copied');
    cancelled();
    if (current) {
      pending = `${uniqueName(`${database}.pre-restore-${new Date().toISOString().replace(/[-:]/g, '')}`)}.tmp`;
      await fsp.link(database, pending);
      await fsyncDir(path.dirname(database));
    }
    faultPoint('restore-set-aside');
    await installFile(tmp, database, cancelled);
    installed = true;
    faultPoint('restore-renamed');
    let keptAs: string | undefined;
    if (pending) {
      keptAs = pending.slice(0, -'.tmp'.length);
      // A service that started on the restored file may have named it already (finishInterruptedRestore).
      await fsp.rename(pending, keptAs).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT' || !fs.existsSync(keptAs!)) throw err;
      });
      await fsyncDir(path.dirname(database));
    }
    faultPoint('restore-kept');
    return Object.freeze({
      database,
      from,
      keptAs,
      bytes: copy.bytes,
      pages: copy.pages,
      verify: checked,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    await fsp.rm(`${tmp}-journal`, { force: true });
    // The link is the old database's last name once the rename happened (even if a later fsync
    // failed): keep it then; remove it only while it is still a second name of the live file.
    if (pending && fs.existsSync(pending)) {
      if (sameFile(fileId(pending), fileId(database))) await fsp.rm(pending);
      else await fsp.rename(pending, pending.slice(0, -'.tmp'.length));
    }
    throw err instanceof BackupError
      ? err
      : new BackupError('ATS_BACKUP_COPY', 'restore', database, reasonOf(err), { cause: err });
  } finally {
    // Back to WAL only if the database path is still the file we hold: SQLite names the -wal after
    // the path, so doing it after the rename would put the old database's WAL beside the new one.
    held?.release(!installed && sameFile(fileId(database), current));
  }
}

/**
 * Settles what a restore killed in its last steps left: a `<db>.pre-restore-<time>.tmp` that is
 * still the live database (killed before the rename: just a second name, removed) or the replaced
 * database (killed after it: given its final name). Returns the kept copies it named.
 */
export async function finishInterruptedRestore(database: string): Promise<string[]> {
  const dir = path.dirname(database);
  const prefix = `${path.basename(database)}.pre-restore-`;
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const live = fileId(database);
  const kept: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const file = path.join(dir, name);
    if (sameFile(fileId(file), live)) await fsp.rm(file);
    else {
      await fsp.rename(file, file.slice(0, -'.tmp'.length));
      kept.push(file.slice(0, -'.tmp'.length));
    }
  }
  if (names.length > 0) await fsyncDir(dir);
  return kept;
}

interface HeldDatabase {
  /** Ends the hold; `undo` puts a WAL database back in WAL mode (the restore did not happen). */
  release(undo: boolean): void;
}

/**
 * Takes the database for the restore, or throws ATS_BACKUP_IN_USE naming who has it. Never closes a raw
 * descriptor on the database: only this connection touches it until it is released.
 */
function takeDatabase(database: string, id: FileId): HeldDatabase {
  const inUse = (who: string, cause?: unknown): BackupError =>
    new BackupError(
      'ATS_BACKUP_IN_USE',
      'restore',
      database,
      `the database is open by ${who}: stop it before restoring (nothing was changed)`,
      { cause },
    );
  const pids = processesWithOpen(id);
  if (pids.length > 0) throw inUse(`process ${pids.join(', ')}`);
  let db: Database.Database | undefined;
  let wasWal = false;
  try {
    db = new Database(database, { timeout: 0, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_schema').get(); // rolls back a hot journal
    wasWal = String(db.pragma('journal_mode', { simple: true })) === 'wal';
    // Leaving WAL needs every other connection closed: it checkpoints and deletes -wal and -shm.
    if (wasWal && String(db.pragma('journal_mode = DELETE', { simple: true })) !== 'delete')
      throw inUse('another connection (it could not leave WAL mode)');
    db.exec('BEGIN EXCLUSIVE');
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (err) {
    if (db?.inTransaction) db.exec('ROLLBACK');
    if (wasWal && db && String(db.pragma('journal_mode', { simple: true })) !== 'wal')
      db.pragma('journal_mode = WAL');
    db?.close();
    if (err instanceof BackupError) throw err;
    const code = String((err as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
      throw inUse('another connection (SQLite reports it locked)', err);
    throw new BackupError(
      'ATS_BACKUP_SOURCE',
      'restore',
      database,
      `cannot open the database to replace: ${reasonOf(err)}`,
      {
        cause: err,
      },
    );
  }
  const conn = db;
  return {
    release(undo) {
      if (!conn.open) return;
      if (conn.inTransaction) conn.exec('ROLLBACK');
      if (undo && wasWal) conn.pragma('journal_mode = WAL');
      conn.close();
    },
  };
}

/** Gives the copy a new lineage whose parent is the backup's. */
function stampLineage(tmp: string): void {
  const db = new Database(tmp, { fileMustExist: true });
  try {
    startChildLineage(db);
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'lineage', tmp, reasonOf(err), { cause: err });
  } finally {
    db.close();
  }
}

/** `name`, or `name-2`, `name-3`, ... when taken: an earlier kept database is never replaced. */
function uniqueName(name: string): string {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${name}-${n}`;
    if (!fs.existsSync(candidate) && !fs.existsSync(`${candidate}.tmp`)) return candidate;
  }
}

const SIDECARS = ['-wal', '-shm'];

/**
 * Reading a WAL-mode file makes SQLite create `-wal`/`-shm` beside it: remove those this read
 * created (an empty -wal, and the -shm when the -wal is gone), so a restore leaves no junk.
 */
function withoutNewSidecars<T>(file: string, read: () => T): T {
  const absent = SIDECARS.filter((s) => !fs.existsSync(`${file}${s}`));
  try {
    return read();
  } finally {
    removeCreated(file, absent);
  }
}

async function withoutNewSidecarsAsync<T>(file: string, read: () => Promise<T>): Promise<T> {
  const absent = SIDECARS.filter((s) => !fs.existsSync(`${file}${s}`));
  try {
    return await read();
  } finally {
    removeCreated(file, absent);
  }
}

function removeCreated(file: string, absent: readonly string[]): void {
  if (absent.includes('-wal') && (fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 1) === 0)
    fs.rmSync(`${file}-wal`);
  if (absent.includes('-shm') && !fs.existsSync(`${file}-wal`)) fs.rmSync(`${file}-shm`, { force: true });
}
