import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { faultPoint } from '../backup/index.js';
import type {
  CheckpointKind,
  CheckpointMode,
  CheckpointOutcome,
  CheckpointReply,
  CheckpointRequest,
  CheckpointWorkerData,
} from './checkpoint-runner.js';

// Worker entry: checkpoints the database from its own connection, off the service's main thread.
const { database } = workerData as CheckpointWorkerData;
// No busy wait: a checkpoint that cannot go ahead now says so (busy) and is tried again later. A
// RESTART that cannot take the write lock degrades to a PASSIVE pass, which is still useful.
const db = new Database(database, { fileMustExist: true, timeout: 0 });
const pageSize = Number(db.pragma('page_size', { simple: true }));

interface Row {
  busy: number;
  log: number;
  checkpointed: number;
}

// The store commits with synchronous=NORMAL: a commit is durable once the WAL is fsynced, which
// SQLite does at the start of a checkpoint that has frames to copy. While a reader pins the log (a
// backup's snapshot), passes have nothing they may copy, and without this worker's own fsync the
// commits made meanwhile (seconds, for a big backup) would not reach the disk until the pin ends.
let previous: Row | undefined;

/**
 * fdatasyncs the WAL through a descriptor opened for it and closed after: closing a descriptor on
 * the -wal drops no lock of SQLite's (its WAL locks are on the -shm and its other locks on the
 * database file; it takes none on the -wal), and a kept one would outlive a terminated worker.
 */
function syncWal(): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(`${database}-wal`, 'r');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return false;
    throw err;
  }
  try {
    fs.fdatasyncSync(fd);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

function checkpoint(mode: CheckpointMode, kind: CheckpointKind): CheckpointOutcome {
  if (kind !== 'held') faultPoint(kind === 'final' ? 'final-checkpoint' : 'checkpoint');
  const started = performance.now();
  const row = (db.pragma(`wal_checkpoint(${mode})`, { simple: false }) as Row[])[0] ?? {
    busy: 1,
    log: -1,
    checkpointed: -1,
  };
  if (kind === 'held') faultPoint('held-checkpoint');
  // A pass that copied nothing new while the log grew: SQLite synced nothing (see above).
  const stalled =
    mode === 'PASSIVE' &&
    previous !== undefined &&
    row.checkpointed === previous.checkpointed &&
    row.log > row.checkpointed &&
    row.log > previous.log;
  previous = row;
  const walSynced = stalled && syncWal();
  return {
    mode,
    busy: row.busy !== 0,
    walFrames: row.log,
    checkpointedFrames: row.checkpointed,
    pageSize,
    ms: performance.now() - started,
    walSynced,
  };
}

parentPort?.on('message', ({ mode, kind }: CheckpointRequest) => {
  let reply: CheckpointReply;
  try {
    reply = { ok: true, outcome: checkpoint(mode, kind) };
  } catch (err) {
    reply = {
      ok: false,
      code: String((err as { code?: unknown }).code ?? ''),
      reason: err instanceof Error ? err.message : String(err),
    };
  }
  parentPort?.postMessage(reply);
});
