import path from 'node:path';
import Database from 'better-sqlite3';
import { nowMs } from '../clock.js';
import { CapReached, type JobOutcome, type JobRequest } from './in-node-job.js';
import { RestartCounter } from './restart-counter.js';

/** How a stepped copy through better-sqlite3's `db.backup()` steps and backs off. */
export interface SteppedBackupPlan {
  /** Name of the copy in the output folder. */
  readonly file: string;
  readonly stepPages: number;
  /** Called after a step that copied nothing (BUSY). */
  readonly onBusy?: () => void;
}

/**
 * A stepped backup with no read transaction held across steps, as the peers run it: a foreign
 * commit between two steps restarts it from page 1. Counts restarts and BUSY steps; stops at the cap.
 */
export async function steppedBackup(
  { source, outDir, capMs }: JobRequest,
  plan: SteppedBackupPlan,
): Promise<JobOutcome> {
  const out = path.join(outDir, plan.file);
  const counter = new RestartCounter(plan.stepPages);
  const started = nowMs();
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(out, {
      progress({ totalPages, remainingPages }) {
        if (nowMs() - started > capMs) throw new CapReached(capMs);
        if (counter.observe(totalPages, remainingPages)) plan.onBusy?.();
        return plan.stepPages;
      },
    });
    return {
      finished: true,
      copyMs: nowMs() - started,
      restarts: counter.restarts,
      busyRetries: counter.busy,
      output: out,
    };
  } catch (err) {
    const capped = err instanceof CapReached;
    return {
      finished: false,
      error: capped ? undefined : String(err),
      copyMs: nowMs() - started,
      restarts: counter.restarts,
      busyRetries: counter.busy,
    };
  } finally {
    db.close();
  }
}
