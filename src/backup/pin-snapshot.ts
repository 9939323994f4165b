import type Database from 'better-sqlite3';
import type { CopyHooks, CopyRequest } from './copy-request.js';
import { BackupError, reasonOf } from './errors.js';

/** Runs around the statement that opens the read transaction; `after` false: not pinned, try again. */
export interface PinProbe {
  before(): void;
  after(journalMode: string): boolean;
}

/** The read transaction that holds one snapshot of the source. */
export interface PinnedSnapshot {
  readonly busyRetries: number;
  /** Times the probe asked for another try. */
  readonly pinTries: number;
  readonly journalMode: string;
  readonly pageSize: number;
  readonly pageCount: number;
}

const BUSY_BACKOFF_MS = 5;
/** A pin whose probe moves this many times in a row does not converge (the block engine falls back). */
export const MAX_PIN_TRIES = 200;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Opens the read transaction that pins the snapshot, backing off 5 ms on BUSY/LOCKED up to the
 * deadline. With a probe, `before` runs just before the first read and `after` just after it; a
 * probe that never settles within {@link MAX_PIN_TRIES} returns undefined, with no transaction open.
 */
export function beginSnapshot(
  db: Database.Database,
  req: CopyRequest,
  hooks: CopyHooks,
  probe?: PinProbe,
): PinnedSnapshot | undefined {
  const deadline = performance.now() + req.busyTimeoutMs;
  let pinTries = 0;
  for (let busyRetries = 0; ; ) {
    try {
      // The copy streams every page once: a small cache is enough and keeps memory bounded.
      db.pragma('cache_size = -4096');
      db.exec('BEGIN');
      probe?.before();
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      const journalMode = String(db.pragma('journal_mode', { simple: true }));
      if (probe && !probe.after(journalMode)) {
        db.exec('ROLLBACK');
        if (++pinTries >= MAX_PIN_TRIES) return undefined;
        continue;
      }
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      const pageCount = Number(db.pragma('page_count', { simple: true }));
      return { busyRetries, pinTries, journalMode, pageSize, pageCount };
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      if (err instanceof BackupError) throw err;
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
      busyRetries++;
      Atomics.wait(sleeper, 0, 0, BUSY_BACKOFF_MS);
    }
  }
}
