import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI,
  type CliRun,
  countRows,
  integrity,
  listDir,
  makeDatabase,
  runCli,
  tempDir,
} from '../helpers.js';

let dir: string;
let db: string;
beforeAll(() => {
  dir = tempDir();
  db = path.join(dir, 'src.db');
  makeDatabase(db, 3);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Mounts a small tmpfs (root only); undefined where this machine does not allow it. */
function mountTmpfs(options: string): string | undefined {
  const mountPoint = fs.mkdtempSync(path.join(dir, 'mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint], { stdio: 'ignore' });
    return mountPoint;
  } catch {
    return undefined;
  }
}
const mounted: string[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) execFileSync('umount', [m]);
});
const canMount = (() => {
  const probe = fs.mkdtempSync('/tmp/ats-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
})();

/** The older backups are untouched and nothing temporary is left. */
function expectUntouched(out: string, good: Buffer): void {
  expect(fs.readFileSync(path.join(out, 'src.db.bak1')).equals(good)).toBe(true);
  expect(listDir(out).filter((f) => f.includes('.tmp'))).toEqual([]);
}

describe('no space', () => {
  it('past RLIMIT_FSIZE: a clear error, previous backups intact, no temporary file, the next backup succeeds', async () => {
    const out = fs.mkdtempSync(path.join(dir, 'fsize-'));
    expect((await runCli(['backup', '--db', db, '--out', out])).code).toBe(0);
    const good = fs.readFileSync(path.join(out, 'src.db.bak1'));
    const limitKb = Math.floor(good.length / 1024 / 2);
    const run = await new Promise<CliRun>((resolve) => {
      const child = spawn('bash', [
        '-c',
        `ulimit -f ${limitKb} && exec "${process.execPath}" "${CLI}" backup --db "${db}" --out "${out}"`,
      ]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(run.signal).toBe(null);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^Error: copy .*src\.db: (SQLITE_IOERR: disk I\/O error|EFBIG: file too large) while writing .*src\.db\.bak\.tmp \([0-9.]+ MiB free there; a full disk, a file size limit \(ulimit -f\) or a failing disk causes this\)\n$/,
    );
    expectUntouched(out, good);
    expect((await runCli(['backup', '--db', db, '--out', out])).code).toBe(0);
    expect(countRows(path.join(out, 'src.db.bak1'))).toBe(countRows(db));
  });

  it.skipIf(!canMount)(
    'on a full filesystem: a clear error, previous backups intact, the next backup succeeds once there is room',
    async () => {
      const size = fs.statSync(db).size;
      const out = mountTmpfs(`size=${Math.ceil((size * 3.5) / 4096) * 4096}`)!;
      mounted.push(out);
      expect((await runCli(['backup', '--db', db, '--out', out])).code).toBe(0);
      const good = fs.readFileSync(path.join(out, 'src.db.bak1'));
      fs.writeFileSync(path.join(out, 'filler'), Buffer.alloc(Math.floor(size * 1.8)));
      const full = await runCli(['backup', '--db', db, '--out', out]);
      expect(full.code).toBe(1);
      expect(full.stderr).toMatch(
        /^Error: copy .*src\.db: (SQLITE_FULL: database or disk is full|ENOSPC: no space left on device) while writing .*src\.db\.bak\.tmp \([0-9.]+ MiB free there;/,
      );
      expectUntouched(out, good);
      fs.rmSync(path.join(out, 'filler'));
      expect((await runCli(['backup', '--db', db, '--out', out])).code).toBe(0);
      expect(integrity(path.join(out, 'src.db.bak1'))).toBe('ok');
      expect(fs.readFileSync(path.join(out, 'src.db.bak2')).equals(good)).toBe(true);
    },
  );
});

describe('backup folder', () => {
  it.skipIf(!canMount)('on a read-only filesystem: refused before anything is written', async () => {
    const out = mountTmpfs('size=1m,ro')!;
    mounted.push(out);
    const run = await runCli(['backup', '--db', db, '--out', out]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`Error: backup folder ${out}: is not writable\n`);
  });
});
