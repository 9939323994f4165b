import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointOutcome, CheckpointWorkerData } from './checkpoint-job.js';

// Worker entry: checkpoints the database from its own connection, off the service's main thread.
const { database } = workerData as CheckpointWorkerData;
// No busy wait: a checkpoint that cannot go ahead now simply tries again next tick.
const db = new Database(database, { fileMustExist: true, timeout: 0 });

interface Row {
  busy: number;
  log: number;
  checkpointed: number;
}

function checkpoint(): CheckpointOutcome {
  const started = performance.now();
  // PASSIVE only: it never takes the writer lock, so no application write ever waits on it.
  // (TRUNCATE does take it, and stalled requests by up to 226 ms in npm run bench.)
  const row = (db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as Row[])[0] ?? {
    busy: 1,
    log: -1,
    checkpointed: -1,
  };
  return {
    walFrames: row.log,
    checkpointedFrames: row.checkpointed,
    ms: Math.round(performance.now() - started),
  };
}

parentPort?.on('message', () => {
  try {
    parentPort?.postMessage({ ok: true, outcome: checkpoint() });
  } catch (err) {
    parentPort?.postMessage({ ok: false, reason: err instanceof Error ? err.message : String(err) });
  }
});
