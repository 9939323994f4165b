import type { Contender } from './contender.js';
import { runInHost } from './in-host.js';
import type { InNodeJob } from './in-node-job.js';
import { steppedBackup } from './stepped-backup.js';

const STEP_PAGES = 5_000;
const BUSY_BACKOFF_MS = 5;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * The design note's loop, re-created: its own read-only connection, `sqlite3_backup_step(5000)`,
 * a yield (`setImmediate`) after each successful step and a 5 ms sleep after a BUSY one. Nothing
 * holds a read transaction across steps, so a foreign commit restarts the copy from page 1.
 */
export const noteLoopJob: InNodeJob = {
  run: (request) =>
    steppedBackup(request, {
      file: 'note-loop.db',
      stepPages: STEP_PAGES,
      // The note's loop runs on its own thread, so its backoff is a blocking sleep.
      onBusy: () => Atomics.wait(sleeper, 0, 0, BUSY_BACKOFF_MS),
    }),
};

export const noteLoop: Contender = {
  id: 'note',
  label: "design note's loop (step 5000, yield, 5 ms on BUSY)",
  description:
    "The design note's manual loop re-created with better-sqlite3's db.backup(): own read-only connection, 5,000 pages per step, yield after each step, 5 ms sleep on BUSY; no read transaction held across steps; the bench fsyncs the copy and counts that time.",
  unavailable: () => undefined,
  run: (ctx) => runInHost('note', ctx),
};
