// Contender host: runs one in-node backup job in this fresh process and prints one JSON line
// (a ContenderRun) with the process's own event-loop delay and memory during the job.
// Usage: node contender-host.js --job NAME --source DB --out-dir DIR --cap-ms N
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { nowMs, sleep } from '../clock.js';
import { type ContenderRun, JOBS } from '../contenders/index.js';
import { fsyncFile, resetPeakRss, statusKb } from '../proc-stats.js';

const { values } = parseArgs({
  options: {
    job: { type: 'string' },
    source: { type: 'string' },
    'out-dir': { type: 'string' },
    'cap-ms': { type: 'string' },
  },
});
const job = JOBS[values.job ?? ''];
if (!job || !values.source || !values['out-dir'] || !values['cap-ms']) {
  throw new Error(
    `contender-host: --job (${Object.keys(JOBS).join(', ')}), --source, --out-dir and --cap-ms are required`,
  );
}

await job.prepare?.();
// Sampled every 1 ms; the histogram holds the time between samples, so the delay is that less 1 ms.
const RESOLUTION_MS = 1;
const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
const peakIsFromNow = resetPeakRss();
const rssBeforeKb = statusKb('self', 'VmRSS') ?? 0;
delay.enable();
await sleep(5); // the delay timer is running before the job starts, so a job that never yields is seen
const startedAt = nowMs();
const outcome = await job.run({
  source: values.source,
  outDir: values['out-dir'],
  capMs: Number(values['cap-ms']),
});
await sleep(3); // lets the delay timer fire once, so a job that blocked the loop throughout is recorded
delay.disable();
// Tools that do not fsync their copy get it done here, outside the event-loop window (the
// fsync is the bench's, not theirs) but inside the copy time and the writer's window.
const fsyncMs = outcome.finished && outcome.output && !outcome.durable ? fsyncFile(outcome.output) : 0;
const endedAt = nowMs();
const peakRssKb = statusKb('self', 'VmHWM');
const ms = (ns: number): number => Math.max(0, Math.round(ns / 1e4) / 100 - RESOLUTION_MS);
const run: ContenderRun = {
  ...outcome,
  copyMs: outcome.copyMs + fsyncMs,
  startedAt,
  endedAt,
  wallMs: endedAt - startedAt,
  peakRssKb,
  rssGrowthKb: peakIsFromNow && peakRssKb !== undefined ? peakRssKb - rssBeforeKb : undefined,
  eventLoop:
    delay.count > 0
      ? { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max) }
      : undefined,
};
process.stdout.write(`${JSON.stringify(run)}\n`);
