import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { LoadId } from './args.js';
import { type CopyCheck, checkCopy } from './check-copy.js';
import { nowMs, sleep } from './clock.js';
import { cpFsync } from './contenders/cp-fsync.js';
import type { Contender, ContenderRun } from './contenders/index.js';
import { type Dataset, refreshWorkingCopy, truncateWal } from './dataset.js';
import { FileSizeSampler } from './file-sampler.js';
import { startWriter } from './load/writer.js';
import { latencySeries, type Window, windowStats } from './metrics.js';
import type { CellResult, CellSeries, WriterFigures } from './results.js';

/** Writer runs this long before the first backup, so its rate has settled. */
const WARMUP_MS = 1_000;
/** Writer keeps going this long after the last backup (the catch-up checkpoint lands here). */
const AFTER_MS = 2_000;
/** Short backups are repeated back to back, up to this many, until they cover the minimum window. */
const MAX_RUNS = 6;
/** With no writer there is nothing to judge: a few runs only steady the copy time. */
const MAX_RUNS_IDLE = 3;
/** Runs a cell of a contender paired with cp + fsync takes at least: its ratio is a median of theirs. */
const MIN_PAIRED_RUNS = 3;
/** A contender stopped at the cap restarts over and over; this much of it is enough to judge the writer. */
const CAPPED_WINDOW_MS = 10_000;

/** Where and how one cell runs. */
export interface CellSetup {
  readonly dataset: Dataset;
  /** The working copy the contender backs up and the writer writes. */
  readonly work: string;
  /** Emptied before and after the cell. */
  readonly outDir: string;
  readonly load: Exclude<LoadId, 'service'>;
  readonly contender: Contender;
  readonly capMs: number;
  readonly rate: number;
  readonly writerAutocheckpoint: number;
  /** Backups shorter than this are repeated until their windows add up to it (p99 needs commits). */
  readonly minWindowMs: number;
  /** Longest writer window judged (and so the longest baseline). */
  readonly windowMaxMs: number;
  /** Keep the writer's downsampled latency over the whole cell (for the plot). */
  readonly keepSeries: boolean;
}

/**
 * Runs one contender on the working copy under one load: writer warm-up, the backup (repeated
 * back to back while short), a few seconds after it, then a baseline window of the same length
 * with the same writer and no backup. Checks the last copy once the writer has stopped, then
 * removes them.
 */
export async function runCell(s: CellSetup): Promise<CellResult> {
  const base = { sizeMb: s.dataset.sizeMb, load: s.load, contender: s.contender.id };
  refreshWorkingCopy(s.dataset, s.work);
  truncateWal(s.work);
  emptyDir(s.outDir);
  try {
    if (s.load === 'none') {
      const runs = await repeatRuns(s);
      return { ...base, ...summarize(runs), check: checkLast(s, runs) };
    }
    const writer = await startWriter(
      s.work,
      s.load === 'full' ? 'full' : s.rate,
      path.join(path.dirname(s.outDir), `writer-${process.pid}.f64`),
      s.writerAutocheckpoint,
    );
    const wal = new FileSizeSampler(`${s.work}-wal`);
    const cellStart = nowMs();
    let timed: Awaited<ReturnType<typeof backupsThenBaseline>>;
    try {
      timed = await backupsThenBaseline(s, wal);
    } catch (err) {
      wal.stop();
      await writer.stop().catch(() => undefined); // the first error is the one worth reporting
      throw err;
    }
    const record = await writer.stop();
    const { runs, walPeakBytes, windows, baseline } = timed;
    const last = runs[runs.length - 1]!;
    const during = windowStats(record.samples, windows);
    const quiet = windowStats(record.samples, [baseline]);
    const after = windowStats(record.samples, [[last.endedAt, last.endedAt + AFTER_MS]]);
    const writerFigures: WriterFigures | undefined =
      during && quiet
        ? {
            windowMs: baseline[1] - baseline[0],
            during,
            baseline: quiet,
            afterMaxMs: after?.maxMs ?? NaN,
            afterMs: AFTER_MS,
            errors: record.errors,
          }
        : undefined;
    let series: CellSeries | undefined;
    if (s.keepSeries) {
      const bucketMs = 25;
      const at = (t: number): number => (t - cellStart) / 1000;
      series = {
        bucketMs,
        backups: runs.map((r) => [at(r.startedAt), at(r.endedAt)] as const),
        baselineStart: at(baseline[0]),
        baselineEnd: at(baseline[1]),
        points: latencySeries(record.samples, cellStart, baseline[1], bucketMs),
      };
    }
    return {
      ...base,
      ...summarize(runs),
      check: checkLast(s, runs),
      writer: writerFigures,
      walPeakBytes,
      series,
    };
  } catch (err) {
    return { ...base, status: 'failed', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    emptyDir(s.outDir);
  }
}

/**
 * Runs the contender once, and again back to back while its runs are short, each into its own
 * folder. A contender with `pairWithCp` gets a cp + fsync of the same source beside every run
 * (before it on even runs, after it on odd ones, so that neither always goes first) and at least
 * MIN_PAIRED_RUNS runs.
 */
async function repeatRuns(s: CellSetup): Promise<ContenderRun[]> {
  const runs: ContenderRun[] = [];
  let covered = 0;
  for (;;) {
    const outDir = path.join(s.outDir, String(runs.length + 1));
    fs.mkdirSync(outDir, { recursive: true });
    const pairedFirst = s.contender.pairWithCp === true && runs.length % 2 === 0;
    const pairedCp = async (): Promise<number | undefined> => {
      if (s.contender.pairWithCp !== true) return undefined;
      const cpDir = path.join(s.outDir, `cp-${runs.length + 1}`);
      fs.mkdirSync(cpDir, { recursive: true });
      warmPageCache(s.work);
      const cp = await cpFsync.run({ source: s.work, outDir: cpDir, capMs: s.capMs });
      fs.rmSync(cpDir, { recursive: true, force: true });
      return cp.finished ? cp.copyMs : undefined;
    };
    const before = pairedFirst ? await pairedCp() : undefined;
    warmPageCache(s.work);
    const run = await s.contender.run({ source: s.work, outDir, capMs: s.capMs });
    const after = s.contender.pairWithCp === true && !pairedFirst ? await pairedCp() : undefined;
    const pairedCpMs = before ?? after;
    runs.push(pairedCpMs === undefined ? run : { ...run, pairedCpMs });
    covered += run.endedAt - run.startedAt;
    const fewest = s.contender.pairWithCp === true ? MIN_PAIRED_RUNS : 1;
    if (
      !run.finished ||
      (runs.length >= fewest && covered >= s.minWindowMs) ||
      runs.length >= Math.max(fewest, s.load === 'none' ? MAX_RUNS_IDLE : MAX_RUNS)
    )
      return runs;
  }
}

/** Warm-up, the backups, the seconds after them, then the baseline window, under the running writer. */
async function backupsThenBaseline(s: CellSetup, wal: FileSizeSampler) {
  await sleep(WARMUP_MS);
  const runs = await repeatRuns(s);
  const walPeakBytes = wal.stop();
  await sleep(AFTER_MS);
  // Judge at most windowMaxMs of backup time, counted back from the end: the end of a backup is
  // where its snapshot is released and the writer's checkpoint catches up. The baseline is as long.
  const windows: Window[] = [];
  const capped = runs.some((r) => !r.finished);
  let left = capped ? Math.min(CAPPED_WINDOW_MS, s.windowMaxMs) : s.windowMaxMs;
  const limit = left;
  for (const r of [...runs].reverse()) {
    const length = Math.min(r.endedAt - r.startedAt, left);
    if (length <= 0) break;
    windows.push([r.endedAt - length, r.endedAt]);
    left -= length;
  }
  const judged = limit - left;
  const baselineStart = nowMs();
  await sleep(judged);
  return { runs, walPeakBytes, windows, baseline: [baselineStart, baselineStart + judged] as Window };
}

/** One figure per cell from its runs: the median copy, the worst memory and event-loop delay. */
function summarize(runs: readonly ContenderRun[]): Pick<CellResult, 'status' | 'reason' | 'run' | 'runs'> {
  const failed = runs.find((r) => !r.finished);
  const sorted = [...runs].sort((a, b) => a.copyMs - b.copyMs);
  const median = failed ?? sorted[Math.floor((sorted.length - 1) / 2)]!;
  const worst = (pick: (r: ContenderRun) => number | undefined): number | undefined => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? Math.max(...values) : undefined;
  };
  const eventLoops = runs.map((r) => r.eventLoop).filter((e) => e !== undefined);
  const { output: _output, ...run } = median;
  return {
    status: !failed ? 'finished' : failed.error ? 'failed' : 'did-not-finish',
    reason: failed?.error,
    run: {
      ...run,
      peakRssKb: worst((r) => r.peakRssKb),
      rssGrowthKb: worst((r) => r.rssGrowthKb),
      eventLoop: eventLoops.length
        ? {
            p50Ms: median.eventLoop?.p50Ms ?? NaN,
            p99Ms: Math.max(...eventLoops.map((e) => e.p99Ms)),
            maxMs: Math.max(...eventLoops.map((e) => e.maxMs)),
          }
        : undefined,
    },
    runs: runs.map((r) => ({
      copyMs: r.copyMs,
      engineCopyMs: r.engineCopyMs,
      holdMs: r.holdMs,
      bulkMs: r.bulkMs,
      verifyMs: r.verifyMs,
      pairedCpMs: r.pairedCpMs,
      wallMs: r.wallMs,
      finished: r.finished,
    })),
  };
}

/**
 * Checks the last copy of the cell: under a writer cp's gets the full integrity_check, as it is
 * the copy that may be torn; the others quick_check. One per cell keeps the run short.
 */
function checkLast(s: CellSetup, runs: readonly ContenderRun[]): CopyCheck | undefined {
  const output = runs[runs.length - 1]?.output;
  if (!output || !fs.existsSync(output)) return undefined;
  return checkCopy(output, s.contender.id === 'cp' && s.load !== 'none' ? 'integrity_check' : 'quick_check');
}

/**
 * Reads the database file once (in a child: this process must not open and close a database file
 * that others hold locks on), so every contender starts with it in the page cache. This host pages
 * out file pages left untouched for about a minute (DAMON), and a partly evicted 1 GB file took
 * cp 1.51 s against 0.73 s warm: whichever contender ran first after a pause paid for the reads.
 */
function warmPageCache(file: string): void {
  spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] });
}

function emptyDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
}
