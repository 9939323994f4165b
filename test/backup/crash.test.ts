import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULTS } from '../faults/catalog.js';
import { countRows, integrity, listDir, makeDatabase, runCli, tempDir } from '../helpers.js';

// Every crash point of a backup, in order; ATS_FAULT_POINT makes the CLI SIGKILL itself there.
const POINTS = ['copy-step@2', 'copy-done', 'verified', 'before-rotate', 'rotate-shift', 'rotate-renamed'];
const RANDOM_KILLS = FAULTS['kill-at-random'].trials;

let dir: string;
let db: string;
beforeAll(async () => {
  dir = tempDir();
  db = path.join(dir, 'crash.db');
  makeDatabase(db, 12);
  for (let i = 0; i < 2; i++) expect((await runCli(['backup', '--db', db])).code).toBe(0);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function addRow(): number {
  const conn = new Database(db);
  conn.prepare('INSERT INTO t (body) VALUES (?)').run('one more');
  conn.close();
  return countRows(db);
}

/** After any crash both generations are complete databases, and the newest good one is kept. */
function expectGenerationsIntact(before: { bak1: number; bak2: number }, attempted: number): void {
  expect(integrity(`${db}.bak1`)).toBe('ok');
  expect(integrity(`${db}.bak2`)).toBe('ok');
  expect([before.bak1, attempted]).toContain(countRows(`${db}.bak1`));
  expect([before.bak2, before.bak1]).toContain(countRows(`${db}.bak2`));
}

async function crashAndRecover(kill: { point?: string; afterMs?: number }): Promise<void> {
  const before = { bak1: countRows(`${db}.bak1`), bak2: countRows(`${db}.bak2`) };
  const attempted = addRow();
  const crashed = await runCli(['backup', '--db', db], {
    env: kill.point ? { ATS_FAULT_POINT: kill.point } : {},
    ...(kill.afterMs === undefined ? {} : { killAfterMs: kill.afterMs }),
  });
  if (kill.point) expect(crashed.signal).toBe('SIGKILL');
  expectGenerationsIntact(before, attempted);

  const next = await runCli(['backup', '--db', db]);
  expect(next.stderr).toBe('');
  expect(next.code).toBe(0);
  expect(countRows(`${db}.bak1`)).toBe(attempted);
  expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
}

describe('SIGKILL during a backup never costs a good backup', () => {
  it('covers every step in the catalog', () => expect(POINTS).toHaveLength(FAULTS['kill-at-step'].trials));

  it.each(POINTS)('killed at %s', async (point) => {
    await crashAndRecover({ point });
  });

  it(`killed at ${RANDOM_KILLS} random moments`, async () => {
    const started = performance.now();
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const fullRun = performance.now() - started;
    for (let i = 0; i < RANDOM_KILLS; i++)
      await crashAndRecover({ afterMs: Math.round(Math.random() * fullRun) });
  }, 300_000); // 30 kills and 30 recovering backups, each a CLI process: slow on a loaded machine

  it('reports the temporary files it cleaned up', async () => {
    const before = { bak1: countRows(`${db}.bak1`), bak2: countRows(`${db}.bak2`) };
    const attempted = addRow();
    expect((await runCli(['backup', '--db', db], { env: { ATS_FAULT_POINT: 'verified' } })).signal).toBe(
      'SIGKILL',
    );
    expect(fs.existsSync(`${db}.bak.tmp`)).toBe(true);
    expectGenerationsIntact(before, attempted);
    const next = await runCli(['backup', '--db', db]);
    expect(next.stdout).toMatch(/removed 1 stale temporary file/);
  });
});
