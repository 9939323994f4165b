import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { countRows, integrity, listDir, makeDatabase, runCli, startHolder, tempDir } from '../helpers.js';

let dir: string;
let holder: ChildProcess | undefined;
afterEach(() => {
  holder?.kill('SIGKILL');
  holder = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const hold = startHolder;

describe('a rollback-journal source that another process keeps locked', () => {
  it('BEGIN EXCLUSIVE past the busy timeout: the backup gives up with a clear message and keeps the older backups', async () => {
    dir = tempDir();
    const db = path.join(dir, 'rj.db');
    makeDatabase(db, 1, 'delete');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const good = fs.readFileSync(`${db}.bak1`);
    holder = await hold(db, 'exclusive');
    const run = await runCli(['backup', '--db', db, '--busy-timeout', '300']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^Error: read source ${db}: still locked by another connection after 300 ms \\(\\d+ retries\\)\\n$`,
      ),
    );
    expect(fs.readFileSync(`${db}.bak1`).equals(good)).toBe(true);
    expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    holder.kill('SIGTERM');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
  });

  it('a long write transaction: readers are not blocked, so the backup finishes with the committed rows only', async () => {
    dir = tempDir();
    const db = path.join(dir, 'rj.db');
    makeDatabase(db, 1, 'delete');
    const committed = countRows(db);
    holder = await hold(db, 'write');
    const run = await runCli(['backup', '--db', db]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /^warning: source is in delete journal mode: the copy blocked writers for \d+ ms \(capped at 4000 ms\); WAL mode avoids this\n$/,
    );
    expect(integrity(`${db}.bak1`)).toBe('ok');
    expect(countRows(`${db}.bak1`)).toBe(committed);
  });
});
