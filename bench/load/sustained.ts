// The "sustained load" section: `ats serve` with backups every 10 s under single POSTs at fixed
// rates and flat out, and batches of 100 flat out. For each: throughput, latency, WAL peak and end
// size, database size, event-loop delay, checkpoint steps and WAL restarts, 503s. Each fixed rate
// also runs a short window with checkpoints held off (a reader pins the WAL, so no checkpoint
// copies or restarts anything), the baseline its latency is judged against.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lastJsonLine, spawnChild } from '../child.js';
import { nowMs } from '../clock.js';
import { log } from '../log.js';
import { type LatencyStats, windowStats } from '../metrics.js';
import { benchChild, OUT_DIR } from '../paths.js';
import { request, startService } from './service.js';
import { ensureServiceDataset } from './service-dataset.js';
import { eventLoopLag, type Lag, worstLag } from './service-probes.js';

/** One load of the section. */
export interface SustainedCase {
  readonly name: string;
  /** The CLI of another build to run instead of this one (the reference row). */
  readonly cli?: string | undefined;
  /** Requests/s (open loop); undefined: flat out with `clients`. */
  readonly rate: number | undefined;
  readonly clients: number;
  readonly batch: number;
}

export const SUSTAINED_CASES: readonly SustainedCase[] = [
  { name: 'single, 200 req/s', rate: 200, clients: 0, batch: 1 },
  { name: 'single, 500 req/s', rate: 500, clients: 0, batch: 1 },
  { name: 'single, 1,000 req/s', rate: 1000, clients: 0, batch: 1 },
  { name: 'single, flat out (8 clients)', rate: undefined, clients: 8, batch: 1 },
  { name: 'batches of 100, flat out (4 clients)', rate: undefined, clients: 4, batch: 100 },
];

/** A point of the WAL-size series: seconds from the start, bytes. */
export interface WalPoint {
  readonly t: number;
  readonly bytes: number;
}

/** A point of the latency series: one second's median and maximum. */
export interface LatencyPoint {
  readonly t: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

/** What one case measured. */
export interface SustainedRow {
  readonly name: string;
  readonly seconds: number;
  readonly requestsPerS: number;
  readonly attestationsPerS: number;
  readonly latency: LatencyStats | undefined;
  readonly walPeakBytes: number;
  readonly walEndBytes: number;
  readonly dbBytes: number;
  readonly loop: Lag | undefined;
  readonly checkpoints: Record<string, number>;
  readonly walRestarts: number;
  /** Times writes were held for a restart step, and how long in all (absent in older results). */
  readonly holds?: { readonly count: number; readonly totalMs: number } | undefined;
  readonly status503: number;
  readonly statusOther: number;
  /**
   * Backpressure during the load: times writes were paused (the WAL over its cap, or the disk too
   * full), how long in all, the longest (from the service's log; absent in older results).
   */
  readonly pauses?:
    | {
        readonly count: number;
        readonly totalMs: number;
        readonly longestMs: number;
        /** Pauses that overlapped a backup (its snapshot pins the WAL). */
        readonly duringBackup: number;
      }
    | undefined;
  readonly backups: number;
  /** The same rate with checkpoints held off, for a short window (fixed rates only). */
  readonly baseline:
    | { readonly seconds: number; readonly latency: LatencyStats | undefined; readonly walPeakBytes: number }
    | undefined;
  readonly walSeries: readonly WalPoint[];
  readonly latencySeries: readonly LatencyPoint[];
}

/** The whole section. */
export interface SustainedResult {
  readonly sizeMb: number;
  readonly seconds: number;
  readonly baselineSeconds: number;
  readonly journalSizeLimitBytes: number;
  readonly rows: readonly SustainedRow[];
  /** The reference build's CLI, when a row ran it. */
  readonly reference?: string | undefined;
}

const JOURNAL_SIZE_LIMIT = 64 << 20;
/** Answers in the first seconds of each load are left out of its figures: a fresh process warming up. */
const WARM_UP_MS = 3_000;

/** Runs every case for `seconds` each on a fresh copy of the service dataset of `sizeMb`. */
export async function runSustained(opts: {
  readonly sizeMb: number;
  readonly seconds: number;
  readonly workDir: string;
}): Promise<SustainedResult> {
  const baselineSeconds = Math.max(8, Math.round(opts.seconds / 4));
  const pristine = await ensureServiceDataset(path.join(OUT_DIR, 'datasets'), opts.sizeMb);
  const rows: SustainedRow[] = [];
  // ATS_BENCH_REFERENCE_CLI names an older build (e.g. before the checkpoint policy): its flat-out
  // single POSTs run right after this build's, the side-by-side throughput the target needs.
  const reference = process.env.ATS_BENCH_REFERENCE_CLI;
  const flatOut = SUSTAINED_CASES.find((c) => c.rate === undefined && c.batch === 1);
  const cases =
    reference && flatOut
      ? [...SUSTAINED_CASES, { ...flatOut, name: `${flatOut.name}, reference build`, cli: reference }]
      : SUSTAINED_CASES;
  for (const c of cases) {
    const row = await runCase(c, pristine, opts.workDir, opts.seconds, baselineSeconds);
    rows.push(row);
    log(
      `sustained ${c.name}: ${row.requestsPerS.toFixed(0)} req/s, p99 ${row.latency?.p99Ms.toFixed(1)} ms, max ${row.latency?.maxMs.toFixed(1)} ms, WAL peak ${(row.walPeakBytes / 2 ** 20).toFixed(0)} MiB, ${row.walRestarts} restarts, ${row.status503} 503s`,
    );
  }
  return {
    sizeMb: opts.sizeMb,
    seconds: opts.seconds,
    baselineSeconds,
    journalSizeLimitBytes: JOURNAL_SIZE_LIMIT,
    rows,
    reference,
  };
}

async function runCase(
  c: SustainedCase,
  pristine: string,
  workDir: string,
  seconds: number,
  baselineSeconds: number,
): Promise<SustainedRow> {
  fs.mkdirSync(workDir, { recursive: true });
  const db = path.join(workDir, 'sustained.db');
  for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(pristine, db);
  if (c.cli) toSchemaOne(db);
  const service = await startService({
    db,
    configFile: path.join(workDir, 'sustained.toml'),
    backupIntervalSeconds: 10,
    cli: c.cli,
  });
  const wal = `${db}-wal`;
  const origin = nowMs();
  const walSeries: WalPoint[] = [];
  let peak = 0;
  let baselinePeak = 0;
  // The WAL peak counts the load only: after it, the held-off window grows the WAL on purpose (a
  // reader pins it) and it stays large until the service stops, which an earlier version counted.
  let phase: 'load' | 'baseline' | 'after' = 'load';
  const sampler = setInterval(() => {
    const bytes = fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
    if (phase === 'baseline') baselinePeak = Math.max(baselinePeak, bytes);
    else if (phase === 'load') peak = Math.max(peak, bytes);
    walSeries.push({ t: (nowMs() - origin) / 1000, bytes });
  }, 100);
  const lags: Lag[] = [];
  const scraper = setInterval(() => {
    void eventLoopLag(service.port).then((lag) => lag && phase === 'load' && lags.push(lag));
  }, 1000);
  let backups = 0;
  try {
    await eventLoopLag(service.port); // start the lag histogram afresh
    const loadStart = Date.now();
    const main = await runLoad(service.port, c, seconds, path.join(workDir, 'load.bin'));
    const loadEnd = Date.now();
    phase = 'after';
    const metrics = (await request(service.port, 'GET', '/metrics')).text;
    clearInterval(scraper);
    const walEndBytes = fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
    let baseline: SustainedRow['baseline'];
    if (c.rate !== undefined) {
      // Checkpoints held off: a reader's snapshot pins the WAL, so no pass copies or restarts anything.
      const pin = new Database(db, { readonly: true });
      pin.exec('BEGIN');
      pin.prepare('SELECT count(*) FROM sqlite_master').get();
      phase = 'baseline';
      const held = await runLoad(service.port, c, baselineSeconds, path.join(workDir, 'baseline.bin'));
      phase = 'after';
      pin.exec('COMMIT');
      pin.close();
      baseline = { seconds: baselineSeconds, latency: held.stats, walPeakBytes: baselinePeak };
    }
    const stdout = await service.stop();
    const logged = logEntries(stdout);
    backups = logged.filter((e) => e.event === 'backup_finish').length;
    const pauses = pausesIn(logged, loadStart, loadEnd);
    return {
      name: c.name,
      seconds,
      requestsPerS: main.requests / seconds,
      attestationsPerS: (main.requests - main.status503 - main.statusOther) * (c.batch / seconds),
      latency: main.stats,
      walPeakBytes: peak,
      walEndBytes,
      dbBytes: fs.statSync(db).size,
      loop: worstLag(lags),
      checkpoints: counters(metrics, 'ats_checkpoints_total'),
      walRestarts: gauge(metrics, 'ats_wal_restarts'),
      holds: {
        count: gauge(metrics, 'ats_write_hold_seconds_count'),
        totalMs: gauge(metrics, 'ats_write_hold_seconds_sum') * 1000,
      },
      status503: main.status503,
      statusOther: main.statusOther,
      pauses,
      backups,
      baseline,
      walSeries,
      latencySeries: main.series,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(scraper);
    await service.stop().catch(() => '');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) fs.rmSync(f, { force: true });
    fs.rmSync(path.join(workDir, 'sustained.db.bak1'), { force: true });
    fs.rmSync(path.join(workDir, 'sustained.db.bak2'), { force: true });
  }
}

interface LoadOutcome {
  readonly requests: number;
  readonly stats: LatencyStats | undefined;
  readonly status503: number;
  readonly statusOther: number;
  readonly series: LatencyPoint[];
}

async function runLoad(port: number, c: SustainedCase, seconds: number, out: string): Promise<LoadOutcome> {
  const args = [
    benchChild('load/sustained-load-process.js'),
    '--port',
    String(port),
    '--seconds',
    String(seconds),
    '--out',
    out,
    '--batch',
    String(c.batch),
    ...(c.rate !== undefined ? ['--rate', String(c.rate)] : ['--clients', String(c.clients)]),
  ];
  const child = spawnChild(process.execPath, args);
  const result = await child.exited;
  if (result.code !== 0)
    throw new Error(`sustained load exited with ${result.code}: ${result.stderr.slice(-400)}`);
  lastJsonLine(result.stdout);
  const triples = new Float64Array(fs.readFileSync(out).buffer.slice(0));
  fs.rmSync(out, { force: true });
  const pairs: number[] = [];
  let status503 = 0;
  let statusOther = 0;
  let first = Infinity;
  for (let i = 0; i + 2 < triples.length; i += 3) first = Math.min(first, triples[i] ?? Infinity);
  const all: number[] = [];
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const status = triples[i + 2] ?? 0;
    if (status === 201) all.push(triples[i] ?? 0, triples[i + 1] ?? 0);
    if ((triples[i] ?? 0) < first + WARM_UP_MS) continue;
    if (status === 201) pairs.push(triples[i] ?? 0, triples[i + 1] ?? 0);
    else if (status === 503) status503++;
    else statusOther++;
  }
  const stats = windowStats(Float64Array.from(pairs), [[-Infinity, Infinity]]);
  return {
    requests: triples.length / 3,
    stats: stats && { ...stats, perSecond: stats.count / (seconds - WARM_UP_MS / 1000) },
    status503,
    statusOther,
    series: perSecond(Float64Array.from(all), first),
  };
}

function perSecond(samples: Float64Array, origin: number): LatencyPoint[] {
  const buckets = new Map<number, number[]>();
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const t = Math.floor(((samples[i] ?? 0) - origin) / 1000);
    const list = buckets.get(t) ?? [];
    list.push(samples[i + 1] ?? 0);
    buckets.set(t, list);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, list]) => {
      const sorted = list.sort((a, b) => a - b);
      return { t, p50Ms: sorted[Math.floor(sorted.length / 2)] ?? 0, maxMs: sorted.at(-1) ?? 0 };
    });
}

function counters(metrics: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\}\\s+([0-9.eE+-]+)`, 'gm'))) {
    const labels = Object.fromEntries(
      [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    out[`${labels.mode} ${labels.result}`] = Number(m[2]);
  }
  return out;
}

function gauge(metrics: string, name: string): number {
  const m = new RegExp(`^${name}\\s+([0-9.eE+-]+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : NaN;
}

/**
 * The reference build may predate schema version 2 (the eviction backlog table), and refuses a
 * newer database. The dataset's backlog is empty, so version 2 adds nothing but that table: the copy
 * is taken back to version 1, which every build opens (a build that knows version 2 migrates it).
 */
function toSchemaOne(db: string): void {
  const conn = new Database(db);
  try {
    if (Number(conn.pragma('user_version', { simple: true })) !== 2) return;
    const backlog = conn.prepare('SELECT count(*) AS n FROM eviction_backlog').get() as { n: number };
    if (backlog.n !== 0)
      throw new Error(`${db}: eviction backlog holds ${backlog.n} pairs; cannot downgrade`);
    conn.exec('DROP TABLE eviction_backlog; PRAGMA user_version = 1;');
  } finally {
    conn.close();
  }
}

/** The fields of the service's JSON log lines that this section reads. */
interface LogEntry {
  readonly event?: string;
  readonly time?: string | number;
  readonly pausedMs?: number;
}

function logEntries(stdout: string): LogEntry[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogEntry);
}

/**
 * The write pauses (backpressure) that ended during the load, from the service's JSON log lines, and
 * how many of them overlapped a periodic backup (whose snapshot pins the WAL).
 */
function pausesIn(
  entries: readonly LogEntry[],
  fromMs: number,
  toMs: number,
): NonNullable<SustainedRow['pauses']> {
  const at = (e: LogEntry): number => new Date(e.time ?? 0).getTime();
  const backups: [number, number][] = [];
  let started: number | undefined;
  for (const e of entries) {
    if (e.event === 'backup_start') started = at(e);
    else if ((e.event === 'backup_finish' || e.event === 'backup_fail') && started !== undefined) {
      backups.push([started, at(e)]);
      started = undefined;
    }
  }
  let count = 0;
  let totalMs = 0;
  let longestMs = 0;
  let duringBackup = 0;
  for (const e of entries) {
    if (e.event !== 'wal_backpressure_end' || typeof e.pausedMs !== 'number') continue;
    const end = at(e);
    if (end < fromMs || end > toMs + 1000) continue;
    count++;
    totalMs += e.pausedMs;
    longestMs = Math.max(longestMs, e.pausedMs);
    const begin = end - e.pausedMs;
    if (backups.some(([b0, b1]) => b0 <= end && b1 >= begin)) duringBackup++;
  }
  return { count, totalMs, longestMs, duringBackup };
}
