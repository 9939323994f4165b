import fs from 'node:fs/promises';
import path from 'node:path';
import { acquireBackupLock } from './backup-lock.js';
import { copyInWorker } from './copy-in-worker.js';
import type { CopyResult } from './copy-request.js';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import { type BackupOptions, resolveBackupOptions } from './options.js';
import { requireFile, requireWritableFolder } from './path-checks.js';
import { copyTmpPath, generationPath, removeStaleFiles, rotate } from './rotation.js';

/** What a successful backup did. */
export interface BackupResult extends Omit<CopyResult, 'verify'> {
  readonly source: string;
  /** The new newest generation (`<target>.bak1`). */
  readonly file: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly verify: CopyResult['verify'];
  /** Temporary files of an earlier, interrupted backup that this run removed. */
  readonly cleanedUp: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Takes a hot backup of an SQLite database: a consistent snapshot copied off the main thread,
 * fsynced and verified in a temporary file, then rotated in as `<target>.bak1`. Nothing an older
 * backup holds is touched until the new one is verified; a failure throws a {@link BackupError}
 * and leaves the older generations as they were.
 */
export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const opts = resolveBackupOptions(options);
  const source = path.resolve(opts.source);
  const target = path.resolve(opts.target);
  const started = performance.now();
  const startedAt = new Date().toISOString();

  const sourceMode = (await requireFile(source, 'open source')).mode & 0o666;
  await requireWritableFolder(path.dirname(target));
  for (let n = 1; n <= opts.keep; n++) {
    if (generationPath(target, n) === source) {
      throw new BackupError(
        'ATS_BACKUP_INVALID',
        'backup',
        source,
        `the backup file ${generationPath(target, n)} would be the database itself`,
      );
    }
  }

  const lock = acquireBackupLock(target);
  const tmp = copyTmpPath(target);
  const signals = [opts.signal, opts.timeoutMs > 0 ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter(
    (s) => s !== undefined,
  );
  try {
    const cleanedUp = await removeStaleFiles(target);
    const copy = await copyInWorker(
      {
        source,
        tmp,
        mode: sourceMode,
        verify: opts.verify,
        busyTimeoutMs: opts.busyTimeoutMs,
        maxReadLockMs: opts.maxReadLockMs,
        stepPages: opts.stepPages,
        engine: opts.engine,
      },
      { signal: signals.length > 0 ? AbortSignal.any(signals) : undefined, onProgress: opts.onProgress },
    );
    if (!copy.verify.ok) {
      throw new BackupError(
        'ATS_BACKUP_VERIFY',
        'verify',
        tmp,
        `${opts.verify} check failed: ${copy.verify.problems.slice(0, 3).join('; ')}`,
      );
    }
    opts.onProgress?.({ phase: 'rotate', pagesDone: copy.pages, pagesTotal: copy.pages });
    faultPoint('before-rotate');
    await rotate(tmp, target, opts.keep);
    const warnings =
      copy.journalMode === 'wal'
        ? []
        : [
            `source is in ${copy.journalMode} journal mode: the copy blocked writers for ${copy.holdMs} ms ` +
              `(capped at ${opts.maxReadLockMs} ms); WAL mode avoids this`,
          ];
    return Object.freeze({
      ...copy,
      source,
      file: generationPath(target, 1),
      startedAt,
      finishedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      cleanedUp,
      warnings,
    });
  } catch (err) {
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}-journal`, { force: true });
    if (err instanceof BackupError) throw err;
    throw new BackupError('ATS_BACKUP_COPY', 'backup', source, reasonOf(err), { cause: err });
  } finally {
    lock.release();
  }
}
