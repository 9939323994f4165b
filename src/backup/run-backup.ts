import fs from 'node:fs/promises';
import path from 'node:path';
import { acquireBackupLock } from './backup-lock.js';
import { addRecord, type BackupRecord, generationPath, requireSameDatabase } from './catalogue.js';
import { copyInWorker } from './copy-in-worker.js';
import type { CopyResult } from './copy-request.js';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import { fileId, sameFile } from './file-identity.js';
import { readLineage } from './lineage.js';
import { type BackupOptions, resolveBackupOptions } from './options.js';
import { requireFile, requireWritableFolder } from './path-checks.js';
import { copyTmpPath, type RemovedGeneration, removeStaleFiles, rotate } from './rotation.js';
import { explainReadOnly } from './verify.js';

/** What a successful backup did. */
export interface BackupResult extends Omit<CopyResult, 'verify'> {
  readonly source: string;
  /** The new newest generation (`<target>.bak1`). */
  readonly file: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly verify: CopyResult['verify'];
  /** What the catalogue recorded for the new backup. */
  readonly record: BackupRecord;
  /** Generations rotation dropped (each must be reported: nothing is deleted silently). */
  readonly removed: readonly RemovedGeneration[];
  /** Temporary files of an earlier, interrupted backup that this run removed. */
  readonly cleanedUp: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Takes a hot backup of an SQLite database: a consistent snapshot copied off the main thread,
 * fsynced and verified in a temporary file, recorded in the catalogue, then rotated in as
 * `<target>.bak1`. Nothing an older backup holds is touched until the new one is verified, no
 * generation of another database is ever replaced (ATS_BACKUP_LINEAGE), and cancellation is honoured up to
 * the final rename; a failure throws a {@link BackupError} and leaves the older generations as
 * they were.
 */
export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const opts = resolveBackupOptions(options);
  const source = path.resolve(opts.source);
  const target = path.resolve(opts.target);
  const started = performance.now();
  const startedAt = new Date().toISOString();

  const sourceMode = (await requireFile(source, 'open source')).mode & 0o666;
  await requireWritableFolder(path.dirname(target));
  const sourceId = fileId(source);
  for (let n = 1; n <= opts.keep + 1; n++) {
    if (generationPath(target, n) === source || sameFile(fileId(generationPath(target, n)), sourceId)) {
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
  const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
  const checkCancelled = (): void => {
    if (signal?.aborted)
      throw new BackupError('ATS_BACKUP_CANCELLED', 'backup', source, 'cancelled before rotation');
  };
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
      { signal, onProgress: opts.onProgress },
    );
    if (!copy.verify.ok) {
      throw new BackupError(
        'ATS_BACKUP_VERIFY',
        'verify',
        tmp,
        `${opts.verify} check failed: ${copy.verify.problems.slice(0, 3).join('; ')}`,
      );
    }
    checkCancelled();
    const record = await recordFor(tmp, source, startedAt, copy);
    requireSameDatabase(target, record);
    await addRecord(target, tmp, record);
    opts.onProgress?.({ phase: 'rotate', pagesDone: copy.pages, pagesTotal: copy.pages });
    faultPoint('before-rotate');
    const removed = await rotate(tmp, target, opts.keep, checkCancelled);
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
      record,
      removed: Object.freeze(removed),
      cleanedUp,
      warnings,
    });
  } catch (err) {
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}-journal`, { force: true });
    if (err instanceof BackupError && err.code === 'ATS_BACKUP_SOURCE') {
      const reason = explainReadOnly(source, err.reason);
      if (reason !== err.reason)
        throw new BackupError(err.code, err.operation, err.path, reason, { cause: err });
    }
    if (err instanceof BackupError) throw err;
    throw new BackupError('ATS_BACKUP_COPY', 'backup', source, reasonOf(err), { cause: err });
  } finally {
    lock.release();
  }
}

/** The catalogue record of the verified copy `tmp`: read from the copy itself, so it is what the copy holds. */
async function recordFor(
  tmp: string,
  source: string,
  createdAt: string,
  copy: CopyResult,
): Promise<BackupRecord> {
  const lineage = readLineage(tmp);
  return Object.freeze({
    lineage: lineage?.id,
    lineageHistory: lineage?.history ?? [],
    createdAt,
    source: await fs.realpath(source),
    pages: copy.pages,
    pageSize: copy.pageSize,
    bytes: copy.bytes,
    checksum: copy.checksum, // hashed from the finished copy as it was fsynced (nothing writes it since)
  });
}
