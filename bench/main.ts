// `npm run bench`: every contender on ATS-shaped databases under each load, side by side in one
// run; writes BENCHMARKS.md, the raw results (bench-out/results.json) and the latency plot.
import fs from 'node:fs';
import path from 'node:path';
import { type BenchOptions, HelpRequested, type LoadId, parseBenchArgs, USAGE } from './args.js';
import { killAllChildren } from './child.js';
import { CONTENDERS, type Contender } from './contenders/index.js';
import { type Dataset, ensureDataset, refreshWorkingCopy } from './dataset.js';
import { describeEnvironment } from './environment.js';
import { loadName, sizeName } from './format.js';
import { runServiceCell } from './load/service-cell.js';
import { runSustained, type SustainedResult } from './load/sustained.js';
import { log } from './log.js';
import { OUT_DIR, ROOT } from './paths.js';
import { type RunRecord, writeReport } from './report.js';
import type { CellResult, ServiceResult } from './results.js';
import { runCell } from './run-cell.js';
import { measureVerifyCache, type VerifyCacheResult } from './verify-cache.js';

const WORK_DIR = path.join(OUT_DIR, 'work');
const PLOT_SIZE_MB = 1000;

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(
      process.argv.slice(2),
      CONTENDERS.map((c) => c.id),
    );
  } catch (err) {
    if (err instanceof HelpRequested) return void process.stdout.write(`${USAGE}\n`);
    process.stderr.write(
      `Error: ${err instanceof Error ? err.message : String(err)}\nTry: npm run bench -- --help\n`,
    );
    process.exitCode = 2;
    return;
  }
  if (opts.fromJson) {
    const saved = JSON.parse(fs.readFileSync(opts.fromJson, 'utf8')) as Omit<RunRecord, 'root'>;
    const written = writeReport({
      ...saved,
      opts: { ...saved.opts, report: opts.report, json: opts.json },
      root: ROOT,
    });
    return log(`re-rendered from ${opts.fromJson}: ${written.join(', ')}`);
  }
  const started = Date.now();
  const env = describeEnvironment();
  log(
    `sizes ${opts.sizes.join(', ')} MB; loads ${opts.loads.join(', ')}; cases ${opts.cases.join(', ')}; cap ${opts.capMs / 1000} s`,
  );
  const cells: CellResult[] = [];
  const services: ServiceResult[] = [];
  const datasets: Dataset[] = [];
  const verifyCache: VerifyCacheResult[] = [];
  const plotSize = opts.sizes.includes(PLOT_SIZE_MB) ? PLOT_SIZE_MB : opts.sizes.at(-1);
  let sustained: SustainedResult | undefined;
  try {
    for (const sizeMb of opts.sizes) {
      const dataset = ensureDataset(path.join(OUT_DIR, 'datasets'), sizeMb);
      datasets.push(dataset);
      const work = path.join(WORK_DIR, `ats-${sizeMb}mb.db`);
      for (const load of opts.loads) {
        if (load === 'service') {
          const idle = cells.find(
            (c) =>
              c.sizeMb === sizeMb &&
              c.load === 'none' &&
              c.contender === 'ours-service' &&
              c.status === 'finished',
          );
          const expectedBackupMs = idle?.run ? idle.run.copyMs + (idle.run.verifyMs ?? 0) : undefined;
          services.push(
            await runServiceCell({
              sizeMb,
              workDir: WORK_DIR,
              httpRate: opts.httpRate,
              capMs: opts.capMs,
              expectedBackupMs,
            }),
          );
          continue;
        }
        const setup = {
          dataset,
          work,
          outDir: path.join(WORK_DIR, 'out'),
          load,
          capMs: opts.capMs,
          rate: opts.rate,
          minWindowMs: opts.minWindowMs,
          windowMaxMs: opts.windowMaxMs,
        };
        for (const contender of contendersOf(opts)) {
          const skip = skipReason(contender, sizeMb, load, cells, opts);
          if (skip) {
            cells.push({ sizeMb, load, contender: contender.id, status: skip.status, reason: skip.reason });
            continue;
          }
          const cell = await runCell({
            ...setup,
            contender,
            writerAutocheckpoint: opts.writerAutocheckpoint,
            keepSeries: sizeMb === plotSize && load === 'full',
          });
          cells.push(cell);
          log(describeCell(cell));
        }
        const profiled = profileContender(opts, sizeMb, load, plotSize);
        if (profiled) {
          // The same cell once more with a writer that never checkpoints inside a commit: what is
          // left of the backup's effect once the writer's own checkpointing is taken out.
          const cell = await runCell({
            ...setup,
            contender: profiled,
            writerAutocheckpoint: 0,
            keepSeries: false,
          });
          cells.push({ ...cell, profile: 'writer-without-autocheckpoint' });
          log(`${describeCell(cell)} [writer wal_autocheckpoint=0]`);
        }
      }
      if (opts.cases.includes('ours-block')) {
        refreshWorkingCopy(dataset, work);
        verifyCache.push(measureVerifyCache(work, path.join(WORK_DIR, 'out'), sizeMb));
        log(`verify cache ${sizeName(sizeMb)}: ${JSON.stringify(verifyCache.at(-1))}`);
      }
      fs.rmSync(work, { force: true });
      for (const f of [`${work}-wal`, `${work}-shm`]) fs.rmSync(f, { force: true });
    }
    if (opts.loads.includes('service') && opts.sustainedSeconds > 0 && opts.sizes[0] !== undefined)
      sustained = await runSustained({
        sizeMb: opts.sizes[0],
        seconds: opts.sustainedSeconds,
        workDir: path.join(WORK_DIR, 'sustained'),
      });
  } finally {
    fs.rmSync(WORK_DIR, { recursive: true, force: true });
  }
  const { measureWorstRequests, worstRequestMarkdown } = await import('./worst-request.js');
  const sections = [
    worstRequestMarkdown(await measureWorstRequests(path.join(OUT_DIR, 'work-worst-request'))),
  ];
  log(sections[0] ?? '');
  const elapsedMs = Date.now() - started;
  const written = writeReport({
    sections,
    opts,
    env,
    datasets,
    cells,
    services,
    verifyCache,
    sustained,
    elapsedMs,
    plotSize,
    argv: process.argv.slice(2),
    root: ROOT,
  });
  log(`done in ${(elapsedMs / 60000).toFixed(1)} min: ${written.join(', ')}`);
}

/**
 * The profiling cells: our in-process engine at the smallest size under the fixed-rate writer and
 * at the plotted size under the full-speed one, each again with a writer that never checkpoints.
 */
function profileContender(
  opts: BenchOptions,
  sizeMb: number,
  load: LoadId,
  plotSize: number | undefined,
): Contender | undefined {
  if (!opts.profile || opts.writerAutocheckpoint === 0 || !opts.cases.includes('ours-service'))
    return undefined;
  const wanted = (load === 'rate' && sizeMb === opts.sizes[0]) || (load === 'full' && sizeMb === plotSize);
  return wanted ? CONTENDERS.find((c) => c.id === 'ours-service') : undefined;
}

function contendersOf(opts: BenchOptions): Contender[] {
  return CONTENDERS.filter((c) => opts.cases.includes(c.id));
}

const LOAD_ORDER: Record<LoadId, number> = { none: 0, rate: 1, full: 2, service: 3 };

/**
 * A contender that hit the cap under a lighter load at this size, or under this load at a smaller
 * size, cannot finish here either (each foreign commit restarts it), so it is not run again.
 */
function skipReason(
  c: Contender,
  sizeMb: number,
  load: LoadId,
  cells: readonly CellResult[],
  opts: BenchOptions,
) {
  const why = c.unavailable();
  if (why) return { status: 'unavailable' as const, reason: why };
  if (opts.runAll) return undefined;
  // A skipped cell counts as lost too: it was skipped because it could not finish.
  const lost = cells.find(
    (r) =>
      r.contender === c.id &&
      (r.status === 'did-not-finish' || r.status === 'skipped') &&
      ((r.sizeMb === sizeMb && LOAD_ORDER[r.load] < LOAD_ORDER[load]) ||
        (r.sizeMb <= sizeMb && r.load === load)),
  );
  if (!lost) return undefined;
  const origin =
    lost.status === 'skipped'
      ? lost.reason?.replace(/^not run: /, '')
      : `did not finish at ${sizeName(lost.sizeMb)} under the ${loadName(lost.load, opts)} load`;
  return { status: 'skipped' as const, reason: `not run: ${origin}` };
}

function describeCell(r: CellResult): string {
  const head = `${r.sizeMb} MB ${r.load.padEnd(4)} ${r.contender.padEnd(12)} ${r.status}`;
  if (!r.run) return `${head} ${r.reason ?? ''}`;
  const w = r.writer
    ? ` writer p99 ${r.writer.during.p99Ms.toFixed(2)}/${r.writer.baseline.p99Ms.toFixed(2)} ms max ${r.writer.during.maxMs.toFixed(1)}/${r.writer.baseline.maxMs.toFixed(1)} after ${r.writer.afterMaxMs.toFixed(1)}`
    : '';
  return `${head} copy ${(r.run.copyMs / 1000).toFixed(2)} s restarts ${r.run.restarts ?? '-'}${w}${r.check ? ` ${r.check.kind} ${r.check.ok ? 'ok' : 'FAILED'}` : ''}${r.reason ? ` (${r.reason})` : ''}`;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllChildren();
    fs.rmSync(WORK_DIR, { recursive: true, force: true });
    process.exit(130);
  });
}
await main();
