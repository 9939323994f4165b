import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { lockBudgetError } from '../backup-api-engine.js';
import { explainWriteError, finishFile } from '../copy-files.js';
import type { BlockCopyStats, CopyHooks, CopyRequest, CopyResult } from '../copy-request.js';
import { BackupError, reasonOf } from '../errors.js';
import { faultPoint } from '../fault-points.js';
import { beginSnapshot } from '../pin-snapshot.js';
import { verifyDatabase } from '../verify.js';
import { type BulkCopy, startBulkCopy } from './bulk-copy.js';
import { keptDescriptor } from './shm-registry.js';
import { readSnapshotFrames, walWasReset, writeStreamedPages } from './wal-frames.js';
import {
  readShm,
  type ShmRead,
  shmUnsupported,
  WAL_INDEX_VERSION,
  type WalIndexHeader,
} from './wal-index.js';

/**
 * The snapshot's WAL pages are kept in memory until the overlay, after the hold; pages past this
 * are written over the copy straight from the WAL before the hold ends (a longer hold, no memory).
 */
const MAX_OVERLAY_BYTES = 32 << 20;
const POLL_MS = 25;

/** The block copy's result, or why the backup-API engine must copy instead (nothing is held then). */
export type BlockOutcome = { readonly result: CopyResult } | { readonly fallback: string };

/** Test hooks of the oracle: never set in production. */
export interface BlockCopyTesting {
  /** The negative control: leave the bulk copy as it was read. */
  readonly skipOverlay?: boolean;
  /** Runs inside the held read transaction, after the bulk copy (the oracle takes its reference copy here). */
  readonly whileHeld?: () => Promise<void> | void;
}

/**
 * The block engine (design note /shared/design/block-copy.md). On the engine's own read-only
 * connection `src`, pin a snapshot and learn its end of WAL from the wal-index header read just
 * before and just after the statement that opens the read transaction (rule 1: equal reads name
 * the held snapshot); bulk-copy the database file in a child process while the snapshot is held,
 * reading and validating the snapshot's WAL frames meanwhile; end the transaction; write the
 * frames' newest pages over the copy, truncate it to the snapshot's size, mark it self-contained,
 * fsync. Rollback-journal sources get the bulk copy under the transaction's SHARED lock, which is
 * already a snapshot. Whenever a precondition fails it returns a fallback reason with the
 * transaction ended and `tmp` empty.
 */
export async function blockCopy(
  src: Database.Database,
  req: CopyRequest,
  hooks: CopyHooks,
  testing: BlockCopyTesting = {},
): Promise<BlockOutcome> {
  const unsupported = shmUnsupported();
  if (unsupported) return { fallback: unsupported };
  const shmPath = `${req.source}-shm`;
  const descriptor = hooks.descriptors ?? keptDescriptor;
  let shmFd = descriptor(shmPath);
  let h1: ShmRead | undefined;
  let h2: ShmRead | undefined;
  let noShm: string | undefined;
  const pinned = beginSnapshot(src, req, hooks, {
    before: () => {
      h1 = shmFd === undefined ? undefined : readShm(shmFd);
    },
    after: (journalMode) => {
      if (journalMode !== 'wal') return true;
      if (shmFd === undefined || !sameFile(shmFd, shmPath)) {
        // The first read of a WAL database creates -shm, and a -shm can be recreated between
        // two connections' lifetimes: take (once) the descriptor on the file SQLite now uses.
        const before = shmFd;
        shmFd = descriptor(shmPath);
        if (shmFd === undefined || shmFd === before) {
          noShm = `no readable ${shmPath} (a WAL database opened with locking_mode=EXCLUSIVE or a read-only -shm)`;
          return true;
        }
        return false;
      }
      h2 = readShm(shmFd);
      return h1?.ok === true && h2.ok && h1.header.raw.equals(h2.header.raw);
    },
  });
  if (!pinned) return { fallback: 'the wal-index header kept moving: the snapshot could not be pinned' };
  const lockedAt = performance.now();
  const release = (): void => {
    if (src.inTransaction) src.exec('COMMIT');
  };
  const rollbackJournal = pinned.journalMode !== 'wal';
  let header: WalIndexHeader | undefined;
  if (!rollbackJournal) {
    const why = noShm ?? walPreconditions(h2, pinned);
    if (why !== undefined) {
      release();
      return { fallback: why };
    }
    header = (h2 as Extract<ShmRead, { ok: true }>).header;
  }
  const nPage = pinned.pageCount;
  const pageSize = pinned.pageSize;
  const ckptBefore = h2?.ok ? h2.ckpt : undefined;

  const bulkStarted = performance.now();
  let copy: BulkCopy;
  try {
    copy = startBulkCopy(req.source, req.tmp);
  } catch (err) {
    release();
    throw new BackupError('ATS_BACKUP_COPY', 'copy', req.source, reasonOf(err), { cause: err });
  }
  let holdMs: number | undefined;
  let pages: ReadonlyMap<number, Buffer> = new Map();
  let streamed: readonly (readonly [number, number])[] = [];
  let walFrames = 0;
  let walReset = false;
  let checkpointDuringCopy = false;
  try {
    const progress = (): void => {
      const done = Math.min(nPage, Math.floor(copy.written() / pageSize));
      hooks.progress({ phase: 'copy', pagesDone: done, pagesTotal: nPage });
      faultPoint('copy-step');
    };
    progress();
    // The WAL is read while the child copies: a few MB, from the page cache.
    const frames = header
      ? readSnapshotFrames(`${req.source}-wal`, header, req.maxOverlayBytes ?? MAX_OVERLAY_BYTES)
      : undefined;
    await waitForCopy(copy, req, hooks, rollbackJournal ? lockedAt : undefined, progress);
    const bulkMs = Math.round(performance.now() - bulkStarted);
    const afterCopy = header && shmFd !== undefined ? readShm(shmFd) : undefined;
    if (header && afterCopy?.ok && ckptBefore) {
      checkpointDuringCopy =
        afterCopy.header.salt.equals(header.salt) &&
        (afterCopy.ckpt.nBackfill > ckptBefore.nBackfill ||
          afterCopy.ckpt.nBackfillAttempted > ckptBefore.nBackfillAttempted);
    }
    // Every frame of the snapshot was in the database file by the time the read transaction
    // began (nBackfill = mxFrame): then the file alone is the snapshot, and no overlay is needed.
    // On read mark 0 no checkpoint may write the file (backfilling needs read lock 0 exclusively,
    // wal.c walCheckpoint); on a mark >= 1 a checkpoint writes only frames up to that mark's
    // value <= mxFrame, all of them already in the file. Otherwise (nBackfill < mxFrame once the
    // transaction had begun) the pin cannot be on mark 0 (walTryBeginRead takes it only when
    // nBackfill = mxFrame), so frames 1..mxFrame cannot change while it is held.
    const markZero = markZeroOf(h1, h2);
    const fileAlone = header !== undefined && header.mxFrame > 0 && markZero !== false;
    if (frames && !frames.ok) {
      // A reset is impossible while a read mark >= 1 is held, so the pin was on mark 0.
      if (frames.reset) walReset = true;
      if (!frames.reset && !fileAlone) {
        await abandon(copy, req.tmp);
        return { fallback: `the snapshot's WAL did not validate: ${frames.reason}` };
      }
    } else if (frames) {
      walFrames = frames.frames;
      if (!fileAlone) {
        pages = frames.pages;
        streamed = frames.streamed;
      }
    }
    if (streamed.length > 0 && header && !testing.skipOverlay) {
      // Pages past the memory budget, from the WAL before the hold ends (mark >= 1: see above).
      const why = streamPages(req, header, streamed);
      if (why !== undefined) {
        await abandon(copy, req.tmp);
        return { fallback: `the snapshot's WAL pages past the memory budget could not be streamed: ${why}` };
      }
    }
    await testing.whileHeld?.();
    const atRelease = header && shmFd !== undefined ? readShm(shmFd) : undefined;
    if (header && atRelease?.ok && !atRelease.header.salt.equals(header.salt)) walReset = true;
    release();
    holdMs = Math.round(performance.now() - lockedAt);
    if (testing.skipOverlay) pages = new Map();
    overlay(req, pages, pageSize, nPage);
    const block: BlockCopyStats = {
      tool: copy.tool,
      pinTries: pinned.pinTries,
      walFrames,
      fileAlone,
      overlayPages: testing.skipOverlay ? 0 : pages.size + streamed.length,
      streamedPages: testing.skipOverlay ? 0 : streamed.length,
      markZero,
      walReset,
      checkpointDuringCopy,
      bulkMs,
    };
    hooks.progress({ phase: 'copy', pagesDone: nPage, pagesTotal: nPage });
    faultPoint('copy-step');
    faultPoint('copy-done');
    hooks.progress({ phase: 'sync', pagesDone: nPage, pagesTotal: nPage });
    const { bytes, durableAt, hash } = finishFile(req.tmp);
    const copyMs = Math.round(durableAt - lockedAt);
    hooks.progress({ phase: 'verify', pagesDone: nPage, pagesTotal: nPage });
    const verify = verifyDatabase(req.tmp, req.verify);
    const { checksum, ms: checksumMs } = await hash;
    faultPoint('verified');
    return {
      result: {
        engine: 'block',
        fallbackReason: undefined,
        pages: nPage,
        pageSize,
        bytes,
        journalMode: pinned.journalMode,
        busyRetries: pinned.busyRetries,
        copyMs,
        checksum,
        checksumMs,
        holdMs,
        block,
        verify,
      },
    };
  } finally {
    copy.stop();
    release();
  }
}

/** Why a pinned WAL snapshot cannot be block-copied, or undefined when it can. */
function walPreconditions(
  read: ShmRead | undefined,
  pinned: { pageSize: number; pageCount: number },
): string | undefined {
  if (!read?.ok) return `the wal-index header could not be read: ${read?.reason ?? 'no -shm'}`;
  const h = read.header;
  if (h.version !== WAL_INDEX_VERSION) return `wal-index version ${h.version}, not ${WAL_INDEX_VERSION}`;
  if (h.mxFrame === 0) return undefined; // no frames: the file alone is the snapshot (szPage may be unset)
  if (h.pageSize !== pinned.pageSize) {
    return `the wal-index says ${h.pageSize}-byte pages, SQLite ${pinned.pageSize}`;
  }
  if (h.nPage !== pinned.pageCount) {
    return `the wal-index says ${h.nPage} pages, the held snapshot ${pinned.pageCount}`;
  }
  return undefined;
}

/** Read mark 0 iff every frame was backfilled when the reader looked (wal.c walTryBeginRead). */
function markZeroOf(h1: ShmRead | undefined, h2: ShmRead | undefined): boolean | undefined {
  if (!h1?.ok || !h2?.ok) return undefined;
  const m = h1.header.mxFrame;
  if (m === 0 || h1.ckpt.nBackfill === m) return true; // nBackfill only grows and never passes mxFrame
  if (h2.ckpt.nBackfill < m) return false;
  return undefined;
}

/** Polls the child: progress, cancellation and (rollback-journal sources) the read-lock budget. */
async function waitForCopy(
  copy: BulkCopy,
  req: CopyRequest,
  hooks: CopyHooks,
  budgetFrom: number | undefined,
  progress: () => void,
): Promise<void> {
  let finished = false;
  let failure: unknown;
  const settled = copy.done.then(
    () => {
      finished = true;
    },
    (err: unknown) => {
      finished = true;
      failure = err;
    },
  );
  for (;;) {
    if (hooks.cancelled()) throw new BackupError('ATS_BACKUP_CANCELLED', 'copy', req.source, 'cancelled');
    if (finished) break;
    if (budgetFrom !== undefined) {
      const held = performance.now() - budgetFrom;
      if (held > req.maxReadLockMs) throw lockBudgetError(req, held);
    }
    // Wake at the child's exit, not at the next tick: the hold ends as soon as the copy does.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, POLL_MS)))]);
    clearTimeout(timer);
    if (!finished) progress();
  }
  if (failure !== undefined) {
    throw new BackupError(
      'ATS_BACKUP_COPY',
      'copy',
      req.source,
      explainWriteError(copyError(failure), req.tmp),
      {
        cause: failure,
      },
    );
  }
}

/** The copier's failure as an errno-style error, so the explanation recognises a full disk or a size limit. */
function copyError(err: unknown): Error {
  const message = reasonOf(err);
  const known: [RegExp, string][] = [
    [/No space left/i, 'ENOSPC: no space left on device'],
    [/File too large|SIGXFSZ/i, 'EFBIG: file too large'],
    [/quota/i, 'EDQUOT: disk quota exceeded'],
  ];
  const hit = known.find(([pattern]) => pattern.test(message));
  if (!hit) return new Error(message);
  return Object.assign(new Error(hit[1]), { code: hit[1].slice(0, hit[1].indexOf(':')) });
}

/** Stops the copier and empties `tmp` for the backup-API engine. */
async function abandon(copy: BulkCopy, tmp: string): Promise<void> {
  copy.stop();
  await copy.done.catch(() => {});
  fs.truncateSync(tmp, 0);
}

/** Writes the snapshot's pages past the memory budget over the copy from the WAL (while the snapshot is held). */
function streamPages(
  req: CopyRequest,
  header: WalIndexHeader,
  streamed: readonly (readonly [number, number])[],
): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(req.tmp, 'r+');
    const why = writeStreamedPages(`${req.source}-wal`, header, streamed, fd);
    // Belt and braces: a WAL reset since the pin would mean the frames read may be another generation's.
    return (
      why ??
      (walWasReset(`${req.source}-wal`, header) ? 'the WAL was reset under the held snapshot' : undefined)
    );
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'copy', req.tmp, explainWriteError(err, req.tmp), {
      cause: err,
    });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes the snapshot's WAL pages over the copy (in page order) and cuts it to the snapshot's size. */
function overlay(
  req: CopyRequest,
  pages: ReadonlyMap<number, Buffer>,
  pageSize: number,
  nPage: number,
): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(req.tmp, 'r+');
    for (const pgno of [...pages.keys()].sort((a, b) => a - b)) {
      const page = pages.get(pgno) as Buffer;
      fs.writeSync(fd, page, 0, pageSize, (pgno - 1) * pageSize);
    }
    fs.ftruncateSync(fd, nPage * pageSize);
  } catch (err) {
    throw new BackupError('ATS_BACKUP_COPY', 'copy', req.tmp, explainWriteError(err, req.tmp), {
      cause: err,
    });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Whether `fd` is the file at `file` now (same device and inode). */
function sameFile(fd: number, file: string): boolean {
  const a = fs.fstatSync(fd, { bigint: true });
  const b = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return b !== undefined && a.dev === b.dev && a.ino === b.ino;
}
