// `npm run bench:continuous`: continuous WAL shipping, measured in one run and printed as tables:
// commit-to-durable-off-site latency at fixed write rates, requests per hour idle and at one
// write per second, and a point-in-time restore's time and peak RSS. The shipper runs as
// `ats serve` runs it (ContinuousJob sealing before every step of the real CheckpointJob), in this
// process, to a folder destination (put = copy, fsync, rename, fsync the folder).
// Options (environment): ATS_BENCH_SECONDS (default 10) per rate, ATS_BENCH_RESTORE_MB (default 100).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { OUT_DIR, ROOT } from './paths.js';
import { runMeasured } from './proc-stats.js';

type Backup = typeof import('../dist/backup/index.js');
type Pulse = typeof import('../dist/pulse/index.js');

const SECONDS = Number(process.env.ATS_BENCH_SECONDS ?? 10);
const RESTORE_MB = Number(process.env.ATS_BENCH_RESTORE_MB ?? 100);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

const load = async <T>(rel: string): Promise<T> =>
  (await import(pathToFileURL(path.join(ROOT, rel)).href)) as T;

interface Rig {
  readonly file: string;
  readonly db: Database.Database;
  readonly store: InstanceType<Backup['FolderStore']>;
  readonly job: InstanceType<Pulse['ContinuousJob']>;
  readonly checkpoints: InstanceType<Pulse['CheckpointJob']>;
  stop(): Promise<void>;
}

async function rig(dir: string, seedMb = 0): Promise<Rig> {
  const backup = await load<Backup>('dist/backup/index.js');
  const pulse = await load<Pulse>('dist/pulse/index.js');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'primary.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma(`journal_size_limit = ${64 << 20}`);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL)');
  if (seedMb > 0) {
    const insert = db.prepare('INSERT INTO t (at, body) VALUES (0, ?)');
    const rows = Math.ceil((seedMb << 20) / 600);
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run(`seed ${i} ${'s'.repeat(500)}`);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
  }
  const store = new backup.FolderStore(path.join(dir, 'remote'));
  const job = new pulse.ContinuousJob(
    {
      database: file,
      store,
      stagingDir: path.join(dir, 'staging'),
      syncIntervalMs: 1000,
      snapshotIntervalMs: 0,
    },
    quiet,
  );
  await job.start();
  const checkpoints = new pulse.CheckpointJob(
    {
      database: file,
      journalSizeLimitBytes: 64 << 20,
      maxWalBytes: 1 << 30,
      beforeCheckpoint: (step) => job.beforeCheckpoint(step.mode),
    },
    quiet,
  );
  job.tick();
  checkpoints.tick();
  return {
    file,
    db,
    store,
    job,
    checkpoints,
    stop: async () => {
      await job.stop();
      await checkpoints.stop();
      db.close();
    },
  };
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** Writes at `rate` per second for SECONDS; each write's time from commit to uploaded. */
async function latency(
  rate: number,
): Promise<{ rate: number; writes: number; p50: number; p99: number; max: number }> {
  const r = await rig(path.join(OUT_DIR, 'continuous', `rate-${rate}`));
  const insert = r.db.prepare('INSERT INTO t (at, body) VALUES (?, ?)');
  const base = r.job.shipper.position?.sealedTxid ?? 0n;
  const waits: Promise<number>[] = [];
  const started = performance.now();
  let done = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      while (done < due && done < rate * SECONDS) {
        insert.run(Date.now(), 'x'.repeat(200));
        r.job.noteCommit();
        const committed = performance.now();
        done++;
        waits.push(r.job.shipper.whenUploaded(base + BigInt(done)).then(() => performance.now() - committed));
      }
      if (done >= rate * SECONDS) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  const ms = (await Promise.all(waits)).sort((a, b) => a - b);
  await r.stop();
  return { rate, writes: ms.length, p50: pct(ms, 50), p99: pct(ms, 99), max: ms.at(-1) ?? Number.NaN };
}

/** Requests to the destination over SECONDS, idle and at one write per second, per hour. */
async function requests(): Promise<{
  idlePerHour: number;
  oneWritePerSecond: { putsPerInterval: number; perHour: number };
}> {
  const r = await rig(path.join(OUT_DIR, 'continuous', 'requests'));
  await new Promise((res) => setTimeout(res, 1500)); // the snapshot is out
  const count = (): number => Object.values(r.store.requests).reduce((a, b) => a + b, 0);
  let before = count();
  await new Promise((res) => setTimeout(res, SECONDS * 1000));
  const idle = count() - before;
  before = count();
  const puts = r.store.requests.put;
  const insert = r.db.prepare('INSERT INTO t (at, body) VALUES (?, ?)');
  for (let i = 0; i < SECONDS; i++) {
    insert.run(Date.now(), 'one');
    r.job.noteCommit();
    await new Promise((res) => setTimeout(res, 1000));
  }
  const busy = count() - before;
  const putCount = r.store.requests.put - puts;
  await r.stop();
  return {
    idlePerHour: (idle * 3600) / SECONDS,
    oneWritePerSecond: { putsPerInterval: putCount / SECONDS, perHour: (busy * 3600) / SECONDS },
  };
}

/** A RESTORE_MB database with SECONDS of segments at 100 writes/s, restored by the CLI. */
async function restore(): Promise<{
  mb: number;
  segments: number;
  ms: number;
  peakRssMb: number;
  ok: boolean;
}> {
  const r = await rig(path.join(OUT_DIR, 'continuous', 'restore'), RESTORE_MB);
  const insert = r.db.prepare('INSERT INTO t (at, body) VALUES (?, ?)');
  for (let s = 0; s < SECONDS; s++) {
    for (let i = 0; i < 100; i++) insert.run(Date.now(), 'y'.repeat(300));
    await new Promise((res) => setTimeout(res, 1000));
  }
  await r.stop();
  const segments = fs
    .readdirSync(path.join(path.dirname(r.file), 'remote'), { recursive: true })
    .filter((f) => String(f).endsWith('.seg')).length;
  const out = path.join(path.dirname(r.file), 'restored.db');
  const run = await runMeasured(
    process.execPath,
    [
      path.join(ROOT, 'dist/cli/main.js'),
      'restore',
      '--db',
      out,
      '--from',
      path.join(path.dirname(r.file), 'remote'),
      '--yes',
    ],
    600_000,
  );
  return {
    mb: RESTORE_MB,
    segments,
    ms: run.endedAt - run.startedAt,
    peakRssMb: (run.peakRssKb ?? 0) / 1024,
    ok: run.code === 0,
  };
}

async function main(): Promise<void> {
  const out: string[] = [];
  out.push(
    '# Continuous WAL shipping',
    '',
    `Written by \`npm run bench:continuous\` (${new Date().toISOString().slice(0, 16)}Z, ${os.cpus().length} cores, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' / ',
      )}): ${SECONDS} s per cell, sync interval 1 s, a folder destination (put = copy, fsync, rename, fsync the folder). The shipper runs as \`ats serve\` runs it: ContinuousJob sealing before every step of the real CheckpointJob.`,
    '',
  );
  out.push('| writes/s | writes | commit -> durable off-site p50 | p99 | max |', '|---|---|---|---|---|');
  const targets: string[] = [];
  for (const rate of [100, 1000]) {
    const l = await latency(rate);
    if (rate === 1000)
      targets.push(
        `- Commit to durable off-site at 1,000 writes/s: p99 ${l.p99.toFixed(0)} ms (target <= 2,000 ms: ${l.p99 <= 2000 ? 'met' : 'missed'}).`,
      );
    out.push(
      `| ${l.rate} | ${l.writes} | ${l.p50.toFixed(0)} ms | ${l.p99.toFixed(0)} ms | ${l.max.toFixed(0)} ms |`,
    );
    process.stderr.write(`${out.at(-1)}\n`);
  }
  const q = await requests();
  out.push('', '| load | requests per hour | PUTs per sync interval |', '|---|---|---|');
  out.push(`| idle | ${q.idlePerHour.toFixed(0)} | 0 |`);
  out.push(
    `| 1 write/s | ${q.oneWritePerSecond.perHour.toFixed(0)} | ${q.oneWritePerSecond.putsPerInterval.toFixed(2)} |`,
  );
  const rs = await restore();
  out.push('', '| restore | segments | time | peak RSS | ok |', '|---|---|---|---|---|');
  out.push(
    `| ${rs.mb} MB + ${SECONDS} s at 100 writes/s | ${rs.segments} | ${(rs.ms / 1000).toFixed(1)} s | ${rs.peakRssMb.toFixed(0)} MiB | ${rs.ok} |`,
  );
  targets.push(
    `- Requests when idle: ${q.idlePerHour.toFixed(0)} per hour (target 0: ${q.idlePerHour === 0 ? 'met' : 'missed'}).`,
    `- At 1 write/s: ${q.oneWritePerSecond.putsPerInterval.toFixed(2)} PUTs per sync interval (target <= 1: ${q.oneWritePerSecond.putsPerInterval <= 1 ? 'met' : 'missed'}).`,
    `- The restore ${rs.ok ? 'succeeded' : 'FAILED'}; its database is compared with the primary row for row by the test suite (test/continuous), not here.`,
  );
  out.push('', '## Targets', '', ...targets);
  const report = `${out.join('\n')}\n`;
  process.stdout.write(report);
  fs.writeFileSync(path.join(ROOT, 'docs', 'bench-continuous.md'), report);
  process.stderr.write('written: docs/bench-continuous.md\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
