// Every contender, in the order of the report's tables, and the in-node jobs the host can run.
import { bs3Default, bs3DefaultJob } from './bs3-default.js';
import type { Contender } from './contender.js';
import { cpFsync } from './cp-fsync.js';
import type { InNodeJob } from './in-node-job.js';
import { noteLoop, noteLoopJob } from './note-loop.js';
import { oursBlock } from './ours-block.js';
import { oursCli } from './ours-cli.js';
import { oursInProcess, oursInProcessJob } from './ours-in-process.js';
import { sqlite3Shell } from './sqlite3-shell.js';
import { vacuumIntoContender, vacuumIntoJob } from './vacuum-into.js';

export type { Contender, ContenderRun, EventLoopDelay, RunContext } from './contender.js';
export { sqlite3ShellVersion } from './sqlite3-shell.js';

/** All contenders; `--cases` picks among their ids (and `ours` means both of ours). */
export const CONTENDERS: readonly Contender[] = [
  oursBlock,
  oursCli,
  oursInProcess,
  noteLoop,
  bs3Default,
  sqlite3Shell,
  vacuumIntoContender,
  cpFsync,
];

/** The jobs `host/contender-host.js` runs by name. */
export const JOBS: Readonly<Record<string, InNodeJob>> = {
  'ours-service': oursInProcessJob,
  note: noteLoopJob,
  'bs3-default': bs3DefaultJob,
  vacuum: vacuumIntoJob,
};
