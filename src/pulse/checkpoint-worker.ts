import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointOutcome, CheckpointWorkerData } from './checkpoint-job.js';

// Worker entry: checkpoints the database from its own connection, off the service's main thread.
const { database, truncateAboveBytes } = workerData as CheckpointWorkerData;
// No busy wait: a checkpoint that cannot go ahead now simply tries again next tick.
const db = new Database(database, { fileMustExist: true, timeout: 0 });

interface Row { busy: number; log: number; checkpointed: number }

function checkpoint(walBytes: number): CheckpointOutcome {
  const started = performance.now();
  // PASSIVE never takes the writer lock, so application writers never wait on it.
  const passive = db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as Row[];
  const { busy, log, checkpointed } = passive[0] ?? { busy: 1, log: -1, checkpointed: -1 };
  let truncated = false;
  // TRUNCATE holds the writer lock while it works: only try it once nothing is left to copy.
  if (busy === 0 && log === checkpointed && walBytes > truncateAboveBytes) {
    const row = (db.pragma('wal_checkpoint(TRUNCATE)', { simple: false }) as Row[])[0];
    truncated = row?.busy === 0;
  }
  return { walFrames: log, checkpointedFrames: checkpointed, truncated, ms: Math.round(performance.now() - started) };
}

parentPort?.on('message', (walBytes: number) => {
  try {
    parentPort?.postMessage({ ok: true, outcome: checkpoint(walBytes) });
  } catch (err) {
    parentPort?.postMessage({ ok: false, reason: err instanceof Error ? err.message : String(err) });
  }
});
