import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { integrity, listDir, makeDatabase, runCli, tempDir, waitFor } from '../helpers.js';

let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ats backup: failures exit 1 naming the file', () => {
  it('a missing database', async () => {
    dir = tempDir();
    const run = await runCli(['backup', '--db', path.join(dir, 'missing.db')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`Error: open source ${path.join(dir, 'missing.db')}: no such file\n`);
    expect(listDir(dir)).toEqual([]);
  });

  it('a missing output folder', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.1);
    const run = await runCli(['backup', '--db', db, '--out', path.join(dir, 'no', 'such')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`Error: backup folder ${path.join(dir, 'no')}: does not exist\n`);
  });
});

describe('ats backup: success', () => {
  it('prints a one-line summary when not on a terminal', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 1);
    const run = await runCli(['backup', '--db', db]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(
      new RegExp(
        `^backup ok: ${db} -> ${db}\\.bak1 \\(.* pages\\) in [0-9.]+ s \\[block copy [0-9.]+ s \\(snapshot held [0-9.]+ s\\), quick_check ok in [0-9.]+ s, 0 busy retries\\]\\n$`,
      ),
    );
    expect(integrity(`${db}.bak1`)).toBe('ok');
  });

  it('writes into a folder given as --out, keeps N, and prints JSON with --json', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    fs.mkdirSync(path.join(dir, 'out'));
    makeDatabase(db, 0.5);
    for (let i = 0; i < 3; i++)
      expect((await runCli(['backup', '--db', db, '--out', path.join(dir, 'out'), '--keep', '3'])).code).toBe(
        0,
      );
    const run = await runCli([
      'backup',
      '--db',
      db,
      '--out',
      path.join(dir, 'out'),
      '--keep',
      '3',
      '--verify',
      'full',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      file: string;
      verify: { mode: string; ok: boolean };
      pages: number;
      bytes: number;
    };
    expect(result.file).toBe(path.join(dir, 'out', 'a.db.bak1'));
    expect(result.verify).toMatchObject({ mode: 'full', ok: true });
    expect(result.bytes).toBe(result.pages * 4096);
    expect(listDir(path.join(dir, 'out'))).toEqual([
      'a.db.backups.json',
      'a.db.bak.lock',
      'a.db.bak1',
      'a.db.bak2',
      'a.db.bak3',
    ]);
  });

  it('SIGTERM cancels cleanly: no temporary file, exit non-zero', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 20); // three 8 MiB steps: the first is never the last
    const marker = path.join(dir, 'paused');
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../helpers.js');
    // The copy pauses after its first step (the signal handler is installed by then) until the
    // marker is removed, so the signal always lands mid-copy, however fast the disk.
    const child = spawn(process.execPath, [CLI, 'backup', '--db', db], {
      env: { ...process.env, ATS_FAULT_POINT: 'copy-step@1:pause', ATS_FAULT_MARKER: marker },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await waitFor(() => fs.existsSync(marker), 20_000, 'the copy to pause after its first step');
    child.kill('SIGTERM');
    await waitFor(() => stderr.includes('cancelling'), 10_000, 'the signal to be seen');
    fs.rmSync(marker);
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/SIGTERM: cancelling/);
    expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});
