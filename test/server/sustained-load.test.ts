import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { integrity, ROOT, removeDir, type Service, startService, tempDir, writeConfig } from '../helpers.js';

// `ats serve` driven flat out by a separate load process (4 clients of single POSTs, 2 of batches of
// 100) while it backs itself up every 2 s. Today's main (PASSIVE checkpoints only) fails the first
// case: its WAL passes 1 GB within these 12 s and never restarts (see /work/notes/issue-10.md).
const MiB = 1 << 20;
const JOURNAL_SIZE_LIMIT = 64 * MiB;
const LOAD_SECONDS = 12;

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  removeDir(dir);
});

interface LoadSummary {
  acked: number;
  statuses: Record<string, number>;
  codes: Record<string, number>;
  missingRetryAfter: number;
  maxMs: number;
}

function runLoad(url: string, seconds: number, ackFile: string): Promise<LoadSummary> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'test/fixtures/load.mjs'), url, String(seconds), '4', '2', '100', ackFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  return new Promise((resolve, reject) => {
    child.once('close', (code) => {
      if (code !== 0) reject(new Error(`load process exited with ${code}`));
      else resolve(JSON.parse(out) as LoadSummary);
    });
  });
}

/** Samples the size of `file` every 10 ms until stopped; returns the largest. */
function sampleSize(file: string): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0);
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Acknowledged ids missing from the database (read with a fresh connection, after any recovery). */
function missingIds(database: string, ackFile: string): { acked: number; missing: number; rows: number } {
  const ids = fs.readFileSync(ackFile, 'utf8').split('\n').filter(Boolean);
  const db = new Database(database, { fileMustExist: true });
  try {
    const has = db.prepare('SELECT 1 FROM attestations WHERE id = ?').pluck();
    const missing = ids.filter((id) => has.get(id) === undefined).length;
    const rows = Number(db.prepare('SELECT count(*) FROM attestations').pluck().get());
    return { acked: ids.length, missing, rows };
  } finally {
    db.close();
  }
}

// The cap is the backstop when a backup's snapshot pins the WAL for long (on a busy machine); below
// 4x journal_size_limit so that the peak bound holds however slow the backups. The policy must still
// do the work: few 503s, and the log restarts again and again.
const WAL_CAP = 240 * MiB;

function serviceConfig(): string {
  return writeConfig(
    dir,
    `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 2\nbackup_dir = "backups"\nmax_wal_bytes = ${WAL_CAP}\n` +
      '[Pulse]\nticker_interval_seconds = 0.2\n[Server]\nport = 0\n[ATS]\nmax_per_actor_context = 1000000\n',
  );
}

/** Only 201s, and 503s that carry Retry-After and a documented code; "0" (no answer) only if allowed. */
function expectOnlyDocumentedAnswers(load: LoadSummary, noAnswerAllowed: boolean): void {
  for (const status of Object.keys(load.statuses)) {
    if (status === '0' && noAnswerAllowed) continue;
    expect(['201', '503'], `status ${status} (${JSON.stringify(load.codes)})`).toContain(status);
  }
  for (const key of Object.keys(load.codes))
    expect(['503 ATS_STORE_WAL_CAP', '503 ATS_STORE_BUSY']).toContain(key);
  expect(load.missingRetryAfter).toBe(0);
}

describe('ats serve under sustained load, with backups running', () => {
  it('keeps the WAL within 4x journal_size_limit, answers only 201 or a documented 503, and keeps every acknowledged id through SIGTERM', async () => {
    dir = tempDir();
    service = await startService(serviceConfig());
    const database = path.join(dir, 'data/ats.db');
    const wal = sampleSize(`${database}-wal`);
    const ackFile = path.join(dir, 'acked.txt');
    const load = await runLoad(service.url, LOAD_SECONDS, ackFile);
    const walPeak = wal.stop();
    if (process.env.ATS_TEST_FIGURES) console.log(JSON.stringify({ walPeakMiB: walPeak / MiB, ...load }));
    expect(walPeak).toBeLessThanOrEqual(4 * JOURNAL_SIZE_LIMIT);
    const health = (await (await fetch(`${service.url}/healthz`)).json()) as {
      wal: { restarts: number; peakBytes: number };
    };

    expect(load.acked).toBeGreaterThan(10_000); // flat out, not a trickle
    expectOnlyDocumentedAnswers(load, false);
    expect(load.statuses['503'] ?? 0).toBeLessThan((load.statuses['201'] ?? 0) / 10);
    expect(service.events('backup_finish').length).toBeGreaterThanOrEqual(2);
    expect(service.events('backup_fail')).toEqual([]);
    expect(health.wal.restarts).toBeGreaterThanOrEqual(1); // at least once in 12 s, however busy the machine
    expect(health.wal.peakBytes).toBeLessThanOrEqual(4 * JOURNAL_SIZE_LIMIT);

    expect(await service.stop('SIGTERM')).toBe(0);
    expect(service.events('stopped')).toHaveLength(1);
    service = undefined;
    const check = missingIds(database, ackFile);
    expect(check.acked).toBe(load.acked);
    expect(check.missing).toBe(0);
    expect(check.rows).toBe(load.acked);
    expect(integrity(database)).toBe('ok');
  });

  it('keeps every acknowledged id when killed with SIGKILL in the middle of the load', async () => {
    dir = tempDir();
    service = await startService(serviceConfig());
    const database = path.join(dir, 'data/ats.db');
    const ackFile = path.join(dir, 'acked.txt');
    const loading = runLoad(service.url, 8, ackFile);
    await new Promise((r) => setTimeout(r, 5_000));
    const killed = service;
    service = undefined;
    await killed.stop('SIGKILL');
    const load = await loading;

    expect(load.acked).toBeGreaterThan(5_000);
    expect(load.statuses['0']).toBeGreaterThan(0); // the load went on against a dead service
    expectOnlyDocumentedAnswers(load, true);
    const check = missingIds(database, ackFile);
    expect(check.acked).toBe(load.acked);
    expect(check.missing).toBe(0);
    // Writes in flight when it died may be in the database without an answer: never fewer rows.
    expect(check.rows).toBeGreaterThanOrEqual(load.acked);
    expect(integrity(database)).toBe('ok');
  });
});
