import type Database from 'better-sqlite3';
import { explainWriteError, finishFile } from './copy-files.js';
import type { CopyHooks, CopyRequest, CopyResult } from './copy-request.js';
import { BackupError } from './errors.js';
import { faultPoint } from './fault-points.js';
import { beginSnapshot } from './pin-snapshot.js';
import { verifyDatabase } from './verify.js';

const STEP_BYTES = 8 << 20;

/**
 * The backup-API engine: SQLite's backup API from the engine's own read-only connection, inside a
 * read transaction held to the end. The backup steps then all read that one snapshot: commits by
 * other connections never restart the copy (a plain stepped backup restarts from page 1 on every
 * foreign commit and never finishes under sustained writes). In WAL mode the held snapshot does
 * not block writers; in rollback-journal mode it does, so the hold is capped at `maxReadLockMs`.
 * `tmp` exists and is empty.
 */
export async function backupApiCopy(
  src: Database.Database,
  req: CopyRequest,
  hooks: CopyHooks,
  fallbackReason: string | undefined,
): Promise<CopyResult> {
  const pinned = beginSnapshot(src, req, hooks);
  if (!pinned) throw new Error('unreachable: a pin without a probe always settles');
  const { busyRetries, journalMode, pageSize } = pinned;
  const lockedAt = performance.now();
  // Reported at once: a copy's progress says the snapshot is held (the service's checkpoints wait).
  hooks.progress({ phase: 'copy', pagesDone: 0, pagesTotal: pinned.pageCount });
  const stepPages = req.stepPages || Math.max(1, Math.floor(STEP_BYTES / pageSize));
  const rollbackJournal = journalMode !== 'wal';
  let pages = 0;
  let holdMs: number;
  try {
    const done = await src.backup(req.tmp, {
      progress({ totalPages, remainingPages }) {
        if (hooks.cancelled()) throw new BackupError('ATS_BACKUP_CANCELLED', 'copy', req.source, 'cancelled');
        const held = performance.now() - lockedAt;
        if (rollbackJournal && held > req.maxReadLockMs) throw lockBudgetError(req, held);
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
    holdMs = Math.round(performance.now() - lockedAt);
  }
  hooks.progress({ phase: 'copy', pagesDone: pages, pagesTotal: pages });
  faultPoint('copy-done');
  hooks.progress({ phase: 'sync', pagesDone: pages, pagesTotal: pages });
  const { bytes, durableAt, hash } = finishFile(req.tmp);
  const copyMs = Math.round(durableAt - lockedAt);
  hooks.progress({ phase: 'verify', pagesDone: pages, pagesTotal: pages });
  const verify = verifyDatabase(req.tmp, req.verify);
  const { checksum, ms: checksumMs } = await hash;
  faultPoint('verified');
  return {
    engine: 'backup-api',
    fallbackReason,
    pages,
    pageSize,
    bytes,
    journalMode,
    busyRetries,
    copyMs,
    checksum,
    checksumMs,
    holdMs,
    block: undefined,
    verify,
  };
}

/** Rollback-journal sources: the hold blocks writers, and it went over its budget. */
export function lockBudgetError(req: CopyRequest, heldMs: number): BackupError {
  return new BackupError(
    'ATS_BACKUP_LOCK_BUDGET',
    'copy',
    req.source,
    `rollback-journal source: the copy held its read lock (which blocks writers) for ${Math.round(heldMs)} ms, ` +
      `over the ${req.maxReadLockMs} ms budget; switch the database to WAL (PRAGMA journal_mode=WAL) or raise maxReadLockMs`,
  );
}
