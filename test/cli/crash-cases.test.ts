import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, listDir, makeDatabase, removeDir, runCli, tempDir } from '../helpers.js';

// What used to crash with a stack trace or mislead, through the real CLI: now a clear message, a
// non-zero exit (or a quiet one for a closed pipe), and nothing created.
let dir: string;
afterEach(() => {
  if (dir) removeDir(dir);
});

describe('a closed stdout', () => {
  it('ats backups with its reader gone exits quietly with its own code, no EPIPE stack trace', async () => {
    dir = tempDir();
    const db = path.join(dir, 'ats.db');
    makeDatabase(db, 0.1);
    for (let i = 0; i < 3; i++) expect((await runCli(['backup', '--db', db, '--keep', '3'])).code).toBe(0);
    const child = spawn(process.execPath, [CLI, 'backups', '--db', db], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // like `| head -0`: the reader is gone before the first line
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('strict whole numbers on the command line', () => {
  it.each(['1e3', '0x10', ' 5', '5 ', '5.0', '+5', '-1', '', '١٢'])('--keep %j is refused', async (keep) => {
    dir = tempDir();
    const run = await runCli(['backup', '--db', 'x.db', '--keep', keep], { cwd: dir });
    expect(run.stderr).toBe(
      `Error: --keep must be a whole number from 1 to 1000 (got "${keep}")\nTry: ats backup --help\n`,
    );
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual([]);
  });
});

describe('ats serve refuses a [Database] path that is no database file, creating nothing', () => {
  const serve = async (pathLine: string) => {
    fs.writeFileSync(path.join(dir, 'am.toml'), `[Database]\n${pathLine}\n[Server]\nport = 0\n`);
    return runCli(['serve'], { cwd: dir, killAfterMs: 20_000 });
  };

  it('a NUL character', async () => {
    dir = tempDir();
    const run = await serve('path = "a\\u0000b"');
    expect(run.stderr).toBe(
      `Error: am.toml:2: [Database] path must not contain a NUL character (got "a\\u0000b")\n`,
    );
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual(['am.toml']);
  });

  it('a device (/dev/null): no /dev/null.serve.lock', async () => {
    dir = tempDir();
    const run = await serve('path = "/dev/null"');
    expect(run.stderr).toMatch(/^Error: store path \/dev\/null is a character device, not a database file/);
    expect(run.code).toBe(2);
    expect(fs.existsSync('/dev/null.serve.lock')).toBe(false);
    expect(listDir(dir)).toEqual(['am.toml']);
  });

  it('a folder: no lock file beside it, no "disk I/O error" nor restore advice', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'));
    const run = await serve('path = "data"');
    expect(run.stderr).toBe(
      `Error: store path ${path.join(dir, 'data')} is a folder, not a database file: give the path of a database file (it is created if missing)\n`,
    );
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual(['am.toml', 'data']);
  });

  it('a FIFO: refused at once instead of hanging on open', async () => {
    dir = tempDir();
    execFileSync('mkfifo', [path.join(dir, 'pipe.db')]);
    const run = await serve('path = "pipe.db"');
    expect(run.stderr).toMatch(/is a FIFO \(named pipe\), not a database file/);
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual(['am.toml', 'pipe.db']);
  });
});

describe('am.toml and the environment', () => {
  it('invalid UTF-8 in am.toml is refused, naming the line', async () => {
    dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'am.toml'),
      Buffer.concat([Buffer.from('[Server]\nport = 0\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')]),
    );
    const run = await runCli(['serve'], { cwd: dir });
    expect(run.stderr).toBe('Error: am.toml:3: is not valid UTF-8 (bad byte 0xe9 at offset 23)\n');
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual(['am.toml']);
  });

  it.each([
    ['only spaces', '   ', /ATS_TOKEN must not be empty or only white space/],
    ['a space inside', 'abc def', /ATS_TOKEN must be visible ASCII characters only.*character 4 of 7/],
    ['a control character', 'abc\u0007', /ATS_TOKEN must be visible ASCII characters only/],
  ])('ATS_TOKEN with %s is refused without showing it', async (_name, token, message) => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'am.toml'), '[Server]\nhost = "0.0.0.0"\nport = 0\n');
    const run = await runCli(['serve'], { cwd: dir, env: { ATS_TOKEN: token } });
    expect(run.stderr).toMatch(message);
    if (token.trim() !== '') expect(run.stderr).not.toContain(token.trim());
    expect(run.code).toBe(2);
    expect(listDir(dir)).toEqual(['am.toml']);
  });

  it('a ticker interval below 0.01 s is refused', async () => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'am.toml'), '[Pulse]\nticker_interval_seconds = 1e-9\n');
    const run = await runCli(['serve'], { cwd: dir });
    expect(run.stderr).toBe(
      'Error: am.toml:2: [Pulse] ticker_interval_seconds must be a number >= 0.01 (got 1e-9)\n',
    );
    expect(run.code).toBe(2);
  });
});
