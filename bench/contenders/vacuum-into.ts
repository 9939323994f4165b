import path from 'node:path';
import Database from 'better-sqlite3';
import { nowMs } from '../clock.js';
import type { Contender } from './contender.js';
import { runInHost } from './in-host.js';
import type { InNodeJob, JobOutcome, JobRequest } from './in-node-job.js';

/** `VACUUM INTO` on a read-only connection: one read transaction, a rebuilt, compacted copy. */
async function vacuumInto({ source, outDir }: JobRequest): Promise<JobOutcome> {
  const out = path.join(outDir, 'vacuum-into.db');
  const started = nowMs();
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    // One synchronous call: the cap is enforced by killing the host process.
    db.exec(`VACUUM INTO '${out.replaceAll("'", "''")}'`);
    return { finished: true, copyMs: nowMs() - started, output: out };
  } catch (err) {
    return { finished: false, error: String(err), copyMs: nowMs() - started };
  } finally {
    db.close();
  }
}

export const vacuumIntoJob: InNodeJob = { run: vacuumInto };

export const vacuumIntoContender: Contender = {
  id: 'vacuum',
  label: 'VACUUM INTO',
  description:
    "SQLite's VACUUM INTO from a read-only better-sqlite3 connection (one read transaction, rebuilds every table and index into the new file); VACUUM INTO does not fsync, so the bench fsyncs the copy and counts that time.",
  unavailable: () => undefined,
  run: (ctx) => runInHost('vacuum', ctx),
};
