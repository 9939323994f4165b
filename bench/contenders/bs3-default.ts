import type { Contender } from './contender.js';
import { runInHost } from './in-host.js';
import type { InNodeJob } from './in-node-job.js';
import { steppedBackup } from './stepped-backup.js';

/** better-sqlite3 copies 100 pages per step unless the progress handler returns another number. */
const DEFAULT_STEP_PAGES = 100;

/** better-sqlite3's `db.backup(file)` with its defaults; the handler only watches. */
export const bs3DefaultJob: InNodeJob = {
  run: (request) => steppedBackup(request, { file: 'bs3-default.db', stepPages: DEFAULT_STEP_PAGES }),
};

export const bs3Default: Contender = {
  id: 'bs3-default',
  label: 'better-sqlite3 db.backup() (defaults)',
  description:
    "better-sqlite3's db.backup(file) as documented, with its defaults: 100 pages per step, setImmediate between steps, on a read-only connection; the bench fsyncs the copy and counts that time.",
  unavailable: () => undefined,
  run: (ctx) => runInHost('bs3-default', ctx),
};
