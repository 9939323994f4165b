import fs from 'node:fs';
import path from 'node:path';
import { lastJsonLine, spawnChild } from '../child.js';
import { nowMs, sleep } from '../clock.js';
import { FileSizeSampler } from '../file-sampler.js';
import { log } from '../log.js';
import { type LatencyStats, windowStats } from '../metrics.js';
import { benchChild, OUT_DIR } from '../paths.js';
import { fsyncFile, statusKb } from '../proc-stats.js';
import type { ServiceBackup, ServiceResult } from '../results.js';
import { request, SERVE_COMMAND, startService } from './service.js';
import { ensureServiceDataset } from './service-dataset.js';
import { eventLoopLag, type Lag, worstLag } from './service-probes.js';

/** Requests in the seconds after a backup are neither "during" nor baseline (catch-up checkpoint). */
const AFTER_MS = 2_000;

export interface ServiceCellSetup {
  readonly sizeMb: number;
  readonly workDir: string;
  readonly httpRate: number;
  readonly capMs: number;
  /** How long one backup took in this run's idle cell (copy and verify), to plan the ticker. */
  readonly expectedBackupMs: number | undefined;
}

/** The `last` backup as `GET /backups` reports it (only what the bench reads). */
interface LastBackup {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly copyMs?: number;
  readonly verify?: { readonly ms: number };
}

/**
 * The real service on a copy of its own database of `sizeMb`, under HTTP writes at a bounded rate
 * while its ticker backs up; compares request latency during backups with the same length of
 * time without one.
 */
export async function runServiceCell(s: ServiceCellSetup): Promise<ServiceResult> {
  const base = { sizeMb: s.sizeMb };
  if (!fs.existsSync(SERVE_COMMAND)) {
    log(`service ${s.sizeMb} MB: skipped, ${path.relative(process.cwd(), SERVE_COMMAND)} does not exist yet`);
    return {
      ...base,
      status: 'unavailable',
      reason: '`ats serve` is not built yet (dist/cli/commands/serve.js missing)',
    };
  }
  try {
    const pristine = await ensureServiceDataset(path.join(OUT_DIR, 'datasets'), s.sizeMb);
    fs.mkdirSync(s.workDir, { recursive: true });
    const db = path.join(s.workDir, `service-${s.sizeMb}mb.db`);
    fs.copyFileSync(pristine, db);
    fsyncFile(db);
    // Leave a quiet stretch between backups as long as two of them (the service's run slower under load).
    const expectedS = Math.max(1, ((s.expectedBackupMs ?? s.sizeMb * 10) / 1000) * 1.5);
    const intervalS = Math.ceil(2 * expectedS + 4);
    const loadS = Math.min(2 * intervalS + expectedS + 2, s.capMs / 1000 + intervalS);
    const result = await measure(s, db, intervalS, loadS);
    log(
      `service ${s.sizeMb} MB: ${result.backups?.length ?? 0} backups; HTTP p99 ${result.during?.p99Ms.toFixed(1)} ms during, ${result.baseline?.p99Ms.toFixed(1)} ms without`,
    );
    return result;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    log(`service ${s.sizeMb} MB: failed: ${reason}`);
    return { ...base, status: 'failed', reason };
  }
}

async function measure(
  s: ServiceCellSetup,
  db: string,
  intervalS: number,
  loadS: number,
): Promise<ServiceResult> {
  const service = await startService({
    db,
    configFile: path.join(s.workDir, 'am.toml'),
    backupIntervalSeconds: intervalS,
  });
  const wal = new FileSizeSampler(`${db}-wal`);
  const wallToMono = Date.now() - nowMs();
  const backups = new Map<string, ServiceBackup>();
  let peakRssKb = 0;
  let rssBeforeKb: number | undefined;
  let running = false;
  let stopped = false;
  let serviceStopped = false;
  let backupStartedAt = 0;
  const lagDuring: Lag[] = [];
  const lagQuiet: Lag[] = [];
  const samplesFile = path.join(s.workDir, 'http.f64');
  const loadStart = nowMs();
  try {
    const load = spawnChild(process.execPath, [
      benchChild('load/http-load-process.js'),
      '--port',
      String(service.port),
      '--rate',
      String(s.httpRate),
      '--seconds',
      String(loadS),
      '--out',
      samplesFile,
    ]);
    // Watch the backups, the service's memory and its event-loop lag while the load runs. The
    // service's lag histogram (prom-client) restarts at each scrape of /metrics: scraping when a
    // backup starts and when it ends gives the lag during it; the same after a quiet stretch as
    // long, starting 2 s after it, gives the lag without one.
    let quiet: { from: number; length: number; started?: number } | undefined;
    const watcher = (async () => {
      let triggered = false;
      while (!stopped) {
        const rss = statusKb(service.pid, 'VmRSS') ?? 0;
        const res = await request(service.port, 'GET', '/backups').catch(() => undefined);
        const state =
          res?.status === 200
            ? (JSON.parse(res.text) as { running?: boolean; last?: LastBackup | null })
            : undefined;
        const now = nowMs();
        if (state?.running && !running) {
          quiet = undefined;
          await eventLoopLag(service.port);
          backupStartedAt = now;
        } else if (!state?.running && running) {
          const lag = await eventLoopLag(service.port);
          if (lag) lagDuring.push(lag);
          quiet = { from: now + AFTER_MS, length: now - backupStartedAt };
        } else if (quiet && quiet.started === undefined && now >= quiet.from) {
          await eventLoopLag(service.port);
          quiet.started = now;
        } else if (quiet?.started !== undefined && now - quiet.started >= quiet.length) {
          const lag = await eventLoopLag(service.port);
          if (lag) lagQuiet.push(lag);
          quiet = undefined;
        }
        if (state?.running) peakRssKb = Math.max(peakRssKb, rss);
        else if (!running) rssBeforeKb = rss;
        running = state?.running ?? false;
        const last = state?.last;
        if (last?.startedAt && !backups.has(last.startedAt)) {
          backups.set(last.startedAt, {
            durationMs: last.durationMs,
            copyMs: last.copyMs,
            verifyMs: last.verify?.ms,
            startedAt: Date.parse(last.startedAt) - wallToMono,
            endedAt: Date.parse(last.finishedAt) - wallToMono,
          });
        }
        // If the ticker has not started one by the second interval, ask for one.
        if (!triggered && backups.size === 0 && !running && nowMs() - loadStart > (intervalS + 3) * 1000) {
          triggered = true;
          await request(service.port, 'POST', '/backups').catch(() => undefined);
        }
        await sleep(50);
      }
    })();
    const { stdout } = await load.exited;
    // Let a backup still running finish, so its result is seen.
    const waitUntil = nowMs() + s.capMs;
    while (running && nowMs() < waitUntil) await sleep(100);
    stopped = true;
    await watcher;
    const summary = lastJsonLine<{ sent: number; answered: number; skipped: number; unanswered: number }>(
      stdout,
    );
    const samples = readTriples(samplesFile);
    const walPeakBytes = wal.stop();
    await service.stop();
    serviceStopped = true;
    const list = [...backups.values()];
    return {
      sizeMb: s.sizeMb,
      status: 'finished',
      httpRate: s.httpRate,
      backups: list,
      ...compare(samples, list),
      requests: summary?.sent,
      peakRssKb: peakRssKb || undefined,
      rssBeforeKb,
      walPeakBytes,
      eventLoopDuring: worstLag(lagDuring),
      eventLoopWithout: worstLag(lagQuiet),
    };
  } finally {
    stopped = true;
    wal.stop();
    if (!serviceStopped) await service.stop();
    fs.rmSync(samplesFile, { force: true });
    for (const f of fs.readdirSync(s.workDir))
      if (f.startsWith(path.basename(db))) fs.rmSync(path.join(s.workDir, f), { force: true });
  }
}

/** Latency of requests that ended during backups, next to requests in as long a stretch with none. */
function compare(samples: Float64Array, backups: readonly ServiceBackup[]) {
  const pairs: number[] = [];
  let failedRequests = 0;
  for (let i = 0; i + 2 < samples.length; i += 3) {
    const status = samples[i + 2] ?? 0;
    if (status !== 201) failedRequests++;
    else pairs.push(samples[i] ?? 0, samples[i + 1] ?? 0);
  }
  const ok = Float64Array.from(pairs);
  const during = (t: number): boolean => backups.some((b) => t >= b.startedAt && t < b.endedAt);
  const near = (t: number): boolean =>
    backups.some((b) => t >= b.startedAt - 500 && t < b.endedAt + AFTER_MS);
  const duringPairs: number[] = [];
  const quietPairs: number[] = [];
  for (let i = 0; i + 1 < ok.length; i += 2) {
    const t = ok[i] ?? 0;
    if (during(t)) duringPairs.push(t, ok[i + 1] ?? 0);
    else if (!near(t)) quietPairs.push(t, ok[i + 1] ?? 0);
  }
  const windowMs = backups.reduce((sum, b) => sum + (b.endedAt - b.startedAt), 0);
  const duringStats = statsOf(duringPairs, Infinity);
  const quietStats = statsOf(quietPairs, duringPairs.length / 2);
  return { during: duringStats, baseline: quietStats, windowMs, failedRequests };
}

/** Stats of the first `limit` requests of a list of [t, latency] pairs (equal counts ≈ equal time at a fixed rate). */
function statsOf(pairs: number[], limit: number): LatencyStats | undefined {
  const n = Math.min(pairs.length / 2, limit);
  if (n === 0) return undefined;
  const arr = Float64Array.from(pairs.slice(0, n * 2));
  const stats = windowStats(arr, [[-Infinity, Infinity]]);
  return stats && { ...stats, perSecond: NaN };
}

function readTriples(file: string): Float64Array {
  const bytes = fs.readFileSync(file);
  return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice();
}
