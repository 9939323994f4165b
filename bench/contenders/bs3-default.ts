import path from 'node:path';
import Database from 'better-sqlite3';
import { nowMs } from '../clock.js';
import type { Contender } from './contender.js';
import { runInHost } from './in-host.js';
import { CapReached, type InNodeJob, type JobOutcome, type JobRequest } from './in-node-job.js';
import { RestartCounter } from './restart-counter.js';

/** better-sqlite3 copies 100 pages per step unless the progress handler returns another number. */
const DEFAULT_STEP_PAGES = 100;

/** better-sqlite3's `db.backup(file)` with its defaults; the handler only watches. */
async function copyWithDefaults({ source, outDir, capMs }: JobRequest): Promise<JobOutcome> {
  const out = path.join(outDir, 'bs3-default.db');
  const counter = new RestartCounter(DEFAULT_STEP_PAGES);
  const started = nowMs();
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(out, {
      progress({ totalPages, remainingPages }) {
        if (nowMs() - started > capMs) throw new CapReached(capMs);
        counter.observe(totalPages, remainingPages);
        return DEFAULT_STEP_PAGES; // what it steps by when the handler returns nothing
      },
    });
    return { finished: true, copyMs: nowMs() - started, restarts: counter.restarts, busyRetries: counter.busy, output: out };
  } catch (err) {
    const capped = err instanceof CapReached;
    return { finished: false, error: capped ? undefined : String(err), copyMs: nowMs() - started, restarts: counter.restarts, busyRetries: counter.busy };
  } finally {
    db.close();
  }
}

export const bs3DefaultJob: InNodeJob = { run: copyWithDefaults };

export const bs3Default: Contender = {
  id: 'bs3-default',
  label: 'better-sqlite3 db.backup() (defaults)',
  description: "better-sqlite3's db.backup(file) as documented, with its defaults: 100 pages per step, setImmediate between steps, on a read-only connection; the bench fsyncs the copy and counts that time.",
  unavailable: () => undefined,
  run: (ctx) => runInHost('bs3-default', ctx),
};
