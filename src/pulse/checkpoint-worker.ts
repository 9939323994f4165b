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

function checkpoint(mode: CheckpointMode, kind: CheckpointKind): CheckpointOutcome {
  if (kind !== 'held') faultPoint(kind === 'final' ? 'final-checkpoint' : 'checkpoint');
  const started = performance.now();
  const row = (db.pragma(`wal_checkpoint(${mode})`, { simple: false }) as Row[])[0] ?? {
    busy: 1,
    log: -1,
    checkpointed: -1,
  };
  if (kind === 'held') faultPoint('held-checkpoint');
  return {
    mode,
    busy: row.busy !== 0,
    walFrames: row.log,
    checkpointedFrames: row.checkpointed,
    pageSize,
    ms: performance.now() - started,
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
