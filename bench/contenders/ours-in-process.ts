import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../paths.js';
import type { Contender } from './contender.js';
import { runInHost } from './in-host.js';
import type { InNodeJob } from './in-node-job.js';

type Engine = typeof import('../../dist/backup/index.js');

let engine: Engine | undefined;

/** `runBackup` as the service calls it: in-process, the copy in a worker thread. */
export const oursInProcessJob: InNodeJob = {
  // The built engine, loaded before the window opens: the repository's `dist/`, or the build
  // named by ATS_BENCH_ENGINE (an experiment: a patched copy of dist/backup/index.js).
  async prepare() {
    const file = process.env.ATS_BENCH_ENGINE ?? path.join(ROOT, 'dist/backup/index.js');
    engine = (await import(pathToFileURL(file).href)) as Engine;
  },
  async run({ source, outDir, capMs }) {
    if (!engine) throw new Error('ours-service: prepare() was not called');
    const { runBackup, BackupError } = engine;
    let restarts = 0;
    let lastDone = 0;
    try {
      const result = await runBackup({
        source,
        target: path.join(outDir, path.basename(source)),
        keep: 1,
        verify: 'quick',
        timeoutMs: capMs,
        onProgress: ({ phase, pagesDone }) => {
          if (phase !== 'copy') return;
          if (pagesDone < lastDone) restarts++;
          lastDone = pagesDone;
        },
      });
      return {
        finished: true,
        copyMs: result.durationMs - result.verify.ms,
        holdMs: result.holdMs,
        engineCopyMs: result.copyMs,
        bulkMs: result.block?.bulkMs,
        checksumMs: result.checksumMs,
        engine: result.fallbackReason ? `${result.engine} (${result.fallbackReason})` : result.engine,
        verifyMs: result.verify.ms,
        restarts,
        busyRetries: result.busyRetries,
        output: result.file,
        durable: true,
      };
    } catch (err) {
      const capped = err instanceof BackupError && err.code === 'ATS_BACKUP_CANCELLED';
      return { finished: false, error: capped ? undefined : String(err), copyMs: capMs, restarts };
    }
  },
};

export const oursInProcess: Contender = {
  id: 'ours-service',
  label: 'ats engine, in-process (as the service runs it; engine auto)',
  description:
    'runBackup() in a Node process, as the service calls it: one held read snapshot copied in a worker thread, fsync, quick_check, rotation; event-loop delay measured in that process.',
  unavailable: () => undefined,
  run: (ctx) => runInHost('ours-service', ctx),
};
