import fs from 'node:fs/promises';
import path from 'node:path';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import { requireFile } from './path-checks.js';
import { fsyncDir } from './rotation.js';
import { type VerifyOutcome, verifyDatabase } from './verify.js';

/** Options of {@link restoreBackup}. */
export interface RestoreOptions {
  /** The backup file to restore. */
  readonly from: string;
  /** The database file to replace (it may not exist). */
  readonly database: string;
  /** Check of the backup before anything is touched, and of the copy before it is put in place. */
  readonly verify: 'quick' | 'full';
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** What a restore did. */
export interface RestoreResult {
  readonly database: string;
  readonly from: string;
  /** Where the replaced database now is; undefined when there was none. */
  readonly keptAs: string | undefined;
  readonly bytes: number;
  readonly verify: VerifyOutcome;
  readonly durationMs: number;
}

const CHUNK = 8 << 20;

/**
 * Puts a verified copy of a backup in place of a database. The backup is checked first and
 * refused if bad; it is copied to `<db>.restore.tmp`, fsynced and checked again; the database it
 * replaces stays as `<db>.pre-restore-<time>` (a hard link, with its -wal and journal moved beside
 * it, so nothing it held is lost and no stale -wal is applied to the restored file); then the copy
 * is renamed over the database and the folder fsynced. The caller makes sure no one has the
 * database open.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const from = path.resolve(opts.from);
  const database = path.resolve(opts.database);
  const tmp = `${database}.restore.tmp`;
  if (from === database)
    throw new BackupError('ATS_BACKUP_INVALID', 'restore', from, 'the backup is the database itself');
  const stat = await requireFile(from, 'restore from');
  const checked = verifyDatabase(from, opts.verify);
  if (!checked.ok) {
    throw new BackupError(
      'ATS_BACKUP_VERIFY',
      'restore from',
      from,
      `the backup fails ${opts.verify}_check (${checked.problems.slice(0, 2).join('; ')}); nothing was changed`,
    );
  }

  await fs.rm(tmp, { force: true }); // left by an interrupted restore
  try {
    await copyFile(from, tmp, stat.mode & 0o666, stat.size, opts.onProgress);
    const copied = verifyDatabase(tmp, opts.verify);
    if (!copied.ok)
      throw new BackupError(
        'ATS_BACKUP_VERIFY',
        'restore copy',
        tmp,
        `the copy fails ${opts.verify}_check: ${copied.problems[0] ?? ''}`,
      );
    faultPoint('restore-copied');
    const keptAs = await setAside(database);
    faultPoint('restore-set-aside');
    await fs.rename(tmp, database);
    await fsyncDir(path.dirname(database));
    return Object.freeze({
      database,
      from,
      keptAs,
      bytes: stat.size,
      verify: checked,
      durationMs: Math.round(performance.now() - started),
    });
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err instanceof BackupError
      ? err
      : new BackupError('ATS_BACKUP_COPY', 'restore', database, reasonOf(err), { cause: err });
  }
}

async function copyFile(
  from: string,
  to: string,
  mode: number,
  size: number,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const source = await fs.open(from, 'r');
  const target = await fs.open(to, 'wx', mode);
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (let done = 0; done < size; ) {
      const { bytesRead } = await source.read(buffer, 0, CHUNK, done);
      if (bytesRead === 0) break;
      await target.write(buffer, 0, bytesRead, done);
      done += bytesRead;
      onProgress?.(done, size);
    }
    await target.sync();
  } finally {
    await source.close();
    await target.close();
  }
}

/** Keeps the current database (if any) as `<db>.pre-restore-<time>`, its -wal and journal beside it. */
async function setAside(database: string): Promise<string | undefined> {
  if (!(await exists(database))) return undefined;
  const keptAs = await linkUnique(
    database,
    `${database}.pre-restore-${new Date().toISOString().replace(/[-:]/g, '')}`,
  );
  for (const suffix of ['-wal', '-journal']) {
    if (await exists(`${database}${suffix}`)) await fs.rename(`${database}${suffix}`, `${keptAs}${suffix}`);
  }
  await fs.rm(`${database}-shm`, { force: true }); // rebuilt from the WAL by whoever opens it
  await fsyncDir(path.dirname(database));
  return keptAs;
}

/** Hard-links `file` as `name`, or `name-2`, `name-3`, ... if taken: an earlier kept database is never replaced. */
async function linkUnique(file: string, name: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? name : `${name}-${n}`;
    try {
      await fs.link(file, candidate);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
