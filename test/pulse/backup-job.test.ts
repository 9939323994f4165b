import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../dist/errors/index.js';
import { type BackupFailure, BackupJob, type BackupJobOptions } from '../../dist/pulse/index.js';
import { integrity, makeDatabase, tempDir, waitFor } from '../helpers.js';

let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

describe('BackupJob', () => {
  it('retries a failed backup after a backoff that doubles, then succeeds and waits a full interval', async () => {
    dir = tempDir();
    const database = path.join(dir, 'later.db');
    const job = new BackupJob(
      {
        database,
        backupDir: dir,
        intervalSeconds: 60,
        keep: 2,
        verify: 'quick',
        timeoutSeconds: 60,
        retryBaseSeconds: 0.2,
      },
      silent,
    );
    const failures: BackupFailure[] = [];
    job.on('failure', (f) => failures.push(f));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      job.tick(Date.now() + 60_000);
      await waitFor(() => failures.length === attempt, 10_000, `failure ${attempt}`);
      delays.push(job.nextDueAt! - Date.parse(failures[attempt - 1]!.at));
    }
    expect(failures.every((f) => f.code === 'ATS_BACKUP_SOURCE')).toBe(true);
    expect(delays.map((d) => Math.round(d / 100))).toEqual([2, 4, 8]); // 0.2 s, 0.4 s, 0.8 s
    expect(job.lastFailure?.reason).toMatch(/no such file/);

    makeDatabase(database, 0.1);
    job.tick(job.nextDueAt!);
    await waitFor(() => job.last !== undefined, 10_000, 'the backup');
    expect(integrity(job.last!.file)).toBe('ok');
    expect(job.nextDueAt! - Date.parse(job.last!.finishedAt)).toBeGreaterThanOrEqual(59_000);
    await job.stop();
  });

  it('starts a backup on a tick at exactly nextDueAt, whatever the two clocks read (2,000 tries)', async () => {
    // nextDueAt is wall-clock (whole ms), the due time monotonic (fractions of one): the instant a
    // caller reads back can land up to 1 ms before the due time. Before the 1 ms slack, 2 ticks of these
    // 2,000 were ignored and the service's backup waited a whole extra ticker period.
    dir = tempDir();
    const job = new BackupJob(
      {
        database: path.join(dir, 'missing.db'),
        backupDir: dir,
        intervalSeconds: 60,
        keep: 2,
        verify: 'quick',
        timeoutSeconds: 60,
        retryBaseSeconds: 0.001,
      },
      silent,
    );
    let failures = 0;
    job.on('failure', () => failures++);
    let ignored = 0;
    for (let i = 0; i < 2000; i++) {
      job.tick(job.nextDueAt!);
      if (!job.running) ignored++;
      // The missing database fails the attempt at once; nextDueAt then moves on by the retry delay.
      while (job.running) await new Promise((r) => setImmediate(r));
    }
    expect(ignored).toBe(0);
    expect(failures).toBe(2000);
    await job.stop();
  }, 120_000);

  it('ignores ticks while a backup runs and before it is due', async () => {
    dir = tempDir();
    const database = path.join(dir, 'a.db');
    makeDatabase(database, 1);
    const job = new BackupJob(
      { database, backupDir: dir, intervalSeconds: 3600, keep: 2, verify: 'quick', timeoutSeconds: 60 },
      silent,
    );
    let starts = 0;
    job.on('start', () => starts++);
    job.tick(Date.now()); // no backup yet: due now
    expect(job.running).toBe(true);
    // A backup cannot settle during synchronous code: every tick below lands while it runs.
    for (let i = 0; i < 50; i++) job.tick(Date.now() + 7_200_000);
    expect(job.start()).toBe(false);
    await waitFor(() => !job.running, 20_000, 'the backup to end');
    expect(starts).toBe(1);
    job.tick(Date.now() + 3_500_000); // not due for an hour
    expect(job.running).toBe(false);
    expect(job.files().map((f) => f.generation)).toEqual([1]);
    await job.stop();
  });

  it('stop() cancels a running backup and leaves no temporary file', async () => {
    dir = tempDir();
    const database = path.join(dir, 'a.db');
    makeDatabase(database, 20); // three 8 MiB steps: the first is never the last
    const job = new BackupJob(
      { database, backupDir: dir, intervalSeconds: 3600, keep: 2, verify: 'full', timeoutSeconds: 60 },
      silent,
    );
    const failures: BackupFailure[] = [];
    job.on('failure', (f) => failures.push(f));
    // The copy worker (which inherits this environment) pauses after its first step until the
    // marker is removed, so stop() always lands mid-copy, however fast the disk.
    const marker = path.join(dir, 'paused');
    process.env.ATS_FAULT_POINT = 'copy-step@1:pause';
    process.env.ATS_FAULT_MARKER = marker;
    try {
      expect(job.start()).toBe(true);
      await waitFor(() => fs.existsSync(marker), 10_000, 'the copy to pause after its first step');
    } finally {
      delete process.env.ATS_FAULT_POINT;
      delete process.env.ATS_FAULT_MARKER;
    }
    const stopped = job.stop();
    fs.rmSync(marker);
    await stopped;
    expect(failures.map((f) => f.code)).toEqual(['ATS_BACKUP_CANCELLED']);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp') || /\.bak\d$/.test(f))).toEqual([]);
    expect(job.start()).toBe(false); // stopped for good
  });

  it('a failure that is not an AtsError is recorded and logged with a code from the table, not EUNKNOWN', async () => {
    dir = tempDir();
    const database = path.join(dir, 'a.db');
    makeDatabase(database, 0.1);
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const job = new BackupJob(
      { database, backupDir: dir, intervalSeconds: 3600, keep: 2, verify: 'quick', timeoutSeconds: 60 },
      log,
    );
    const failures: BackupFailure[] = [];
    job.on('failure', (f) => failures.push(f));
    // What serve hangs on 'success' (the off-site enqueue) runs inside the job's try: a plain Error there.
    job.on('success', () => {
      throw new TypeError('a success listener broke');
    });
    expect(job.start()).toBe(true);
    await waitFor(() => failures.length === 1, 10_000, 'the failure');
    expect(failures[0]).toMatchObject({ code: 'ATS_BACKUP_UNEXPECTED', reason: 'a success listener broke' });
    expect(ERROR_CODES).toHaveProperty(failures[0]!.code);
    expect(lines.find((l) => l.event === 'backup_fail')).toMatchObject({ code: 'ATS_BACKUP_UNEXPECTED' });
    await job.stop();
  });
});

describe('BackupJob: what the checkpoint job is told', () => {
  /** A job that backs up `database` into the test's folder once an hour (so only start() runs it). */
  function hourly(database: string, extra: Partial<BackupJobOptions>): BackupJobOptions {
    return {
      database,
      backupDir: dir,
      intervalSeconds: 3600,
      keep: 2,
      verify: 'quick',
      timeoutSeconds: 60,
      ...extra,
    };
  }

  /** Starts a backup paused at fault point `point` (in its copy worker); resolves once it is there. */
  async function pausedAt(job: BackupJob, point: string): Promise<string> {
    const marker = path.join(dir, 'paused');
    process.env.ATS_FAULT_POINT = `${point}:pause`;
    process.env.ATS_FAULT_MARKER = marker;
    try {
      expect(job.start()).toBe(true);
      await waitFor(() => fs.existsSync(marker), 20_000, `the backup to pause at ${point}`);
    } finally {
      delete process.env.ATS_FAULT_POINT;
      delete process.env.ATS_FAULT_MARKER;
    }
    return marker;
  }

  /** Whether another connection's TRUNCATE checkpoint is kept from finishing (a reader pins the WAL). */
  function truncateBlocked(database: string): boolean {
    const other = new Database(database);
    try {
      const [r] = other.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      return r!.busy !== 0;
    } finally {
      other.close();
    }
  }

  for (const engine of ['block', 'backup-api'] as const) {
    it(`holdsSnapshot: true while the ${engine} copy holds its snapshot, false once the copy is done though the backup still runs`, async () => {
      dir = tempDir();
      const database = path.join(dir, 'a.db');
      makeDatabase(database, 20);
      const writer = new Database(database);
      writer.exec("INSERT INTO t (body) VALUES ('in the WAL')"); // a WAL with frames to pin
      const job = new BackupJob(hourly(database, { engine }), silent);
      try {
        let marker = await pausedAt(job, 'copy-step@1');
        expect(job.running).toBe(true);
        await waitFor(() => job.holdsSnapshot, 5_000, 'the copy progress to arrive');
        expect(truncateBlocked(database)).toBe(true); // the flag tells the truth: the WAL is pinned
        fs.rmSync(marker);
        await waitFor(() => !job.running, 20_000, 'the first backup to end');
        expect(job.holdsSnapshot).toBe(false);
        writer.exec("INSERT INTO t (body) VALUES ('in the WAL again')");
        marker = await pausedAt(job, 'verified');
        expect(job.running).toBe(true);
        expect(job.holdsSnapshot).toBe(false);
        expect(truncateBlocked(database)).toBe(false); // nothing pins the WAL while it verifies
        fs.rmSync(marker);
        await waitFor(() => !job.running, 20_000, 'the second backup to end');
        expect(job.last?.engine).toBe(engine);
      } finally {
        writer.close();
        await job.stop();
      }
    });
  }

  it('awaits beforeSnapshot before it takes its snapshot, and stop() cuts that wait short', async () => {
    dir = tempDir();
    const database = path.join(dir, 'a.db');
    makeDatabase(database, 0.1);
    let release = (): void => {};
    let asked = 0;
    const job = new BackupJob(
      hourly(database, {
        beforeSnapshot: () => {
          asked++;
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      }),
      silent,
    );
    const failures: BackupFailure[] = [];
    job.on('failure', (f) => failures.push(f));
    expect(job.start()).toBe(true);
    await waitFor(() => asked === 1, 5_000, 'beforeSnapshot to be asked');
    await new Promise((r) => setTimeout(r, 200));
    expect(job.files()).toEqual([]); // no copy before the wait is over
    release();
    await waitFor(() => !job.running, 20_000, 'the backup to end');
    expect(job.files().map((f) => f.generation)).toEqual([1]);
    expect(job.start()).toBe(true); // a wait that never ends ...
    await waitFor(() => asked === 2, 5_000, 'beforeSnapshot to be asked again');
    await job.stop(); // ... is cut short by stop()
    expect(failures.map((f) => f.code)).toEqual(['ATS_BACKUP_CANCELLED']);
  });
});
