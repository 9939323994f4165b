// Issue 12, backups lost B1-B4 and the unclear cases of backup and verify: a backup knows which
// database it belongs to, nothing is rotated over or pruned silently. Through the real CLI and service.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attestation,
  CLI,
  listDir,
  makeDatabase,
  runCli,
  type Service,
  startService,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers.js';

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const put = (url: string, body: unknown) =>
  fetch(`${url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

function attestations(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM attestations').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Starts a service, stores `rows` attestations, waits for its first backup, stops it. */
async function serveOnce(config: string, rows: number): Promise<void> {
  const s = await startService(config);
  try {
    expect(
      (
        await put(
          s.url,
          Array.from({ length: rows }, (_, i) => attestation(i)),
        )
      ).status,
    ).toBe(201);
    await waitFor(() => s.events('backup_finish').length >= 1, 20_000, 'a backup');
    if (s.events('backup_finish').length === 1 && rows > 0) {
      // the first backup may have run before the rows: take one more that holds them
      expect((await fetch(`${s.url}/backups`, { method: 'POST' })).status).toBe(202);
      await waitFor(() => s.events('backup_finish').length >= 2, 20_000, 'the second backup');
    }
  } finally {
    expect(await s.stop()).toBe(0);
  }
}

describe('B1: a missing or empty database at start never rotates empty backups over good ones', () => {
  it('refuses to start and names ats restore; --fresh starts on purpose and still never replaces the good backups', async () => {
    dir = tempDir();
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_dir = "backups"\nbackup_interval_seconds = 1\n[Pulse]\nticker_interval_seconds = 0.1\n[Server]\nport = 0\n',
    );
    await serveOnce(config, 5);
    const bak1 = path.join(dir, 'backups', 'ats.db.bak1');
    expect(attestations(bak1)).toBe(5);

    for (const lose of ['missing', 'empty'] as const) {
      for (const f of listDir(path.join(dir, 'data'))) fs.rmSync(path.join(dir, 'data', f)); // volume not mounted
      if (lose === 'empty') fs.writeFileSync(path.join(dir, 'data', 'ats.db'), '');
      const run = await runCli(['serve', '--config', config], { killAfterMs: 8_000 });
      expect(run.code, `${lose}: ${run.stderr}`).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(
          `database .*ats\\.db ${lose === 'missing' ? 'does not exist' : 'is empty \\(0 bytes\\)'} but \\d+ backup\\(s\\) of it do .*ats restore --from bak1 --config .*ats serve --fresh`,
        ),
      );
    }

    service = await startService(config, { args: ['--fresh'] });
    await waitFor(() => service!.events('backup_fail').length >= 1, 20_000, 'the refused backup');
    expect(service.events('backup_fail')[0]).toMatchObject({ code: 'ATS_BACKUP_LINEAGE' });
    expect(String(service.events('backup_fail')[0]!.reason)).toMatch(/holds a backup of another database/);
    expect(await service.stop()).toBe(0);
    service = undefined;
    expect(attestations(bak1)).toBe(5);
  });
});

describe('B2: two databases with one file name never share generations', () => {
  it('a second service on the same backup_dir cannot rotate over the first one’s backups; nor can ats backup --out', async () => {
    dir = tempDir();
    const configs = ['a', 'b'].map((name) => {
      fs.mkdirSync(path.join(dir, name));
      return writeConfig(
        path.join(dir, name),
        '[Database]\npath = "./data/ats.db"\nbackup_dir = "../shared"\nbackup_interval_seconds = 1\n[Pulse]\nticker_interval_seconds = 0.1\n[Server]\nport = 0\n',
      );
    });
    await serveOnce(configs[0]!, 3);
    const bak1 = path.join(dir, 'shared', 'ats.db.bak1');
    expect(attestations(bak1)).toBe(3);

    service = await startService(configs[1]!);
    expect((await put(service.url, [attestation(100)])).status).toBe(201);
    await waitFor(() => service!.events('backup_fail').length >= 1, 20_000, 'the refused backup');
    expect(service.events('backup_fail')[0]).toMatchObject({ code: 'ATS_BACKUP_LINEAGE' });
    expect(await service.stop()).toBe(0);
    service = undefined;

    const run = await runCli([
      'backup',
      '--db',
      path.join(dir, 'b', 'data', 'ats.db'),
      '--out',
      path.join(dir, 'shared'),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ats\.db\.bak1: holds a backup of another database .*nothing was rotated/);
    expect(attestations(bak1)).toBe(3);
    expect(listDir(path.join(dir, 'shared')).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('plain databases (no lineage) are told apart by their real path', async () => {
    dir = tempDir();
    for (const name of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, name));
      makeDatabase(path.join(dir, name, 'x.db'), 0.1);
    }
    fs.mkdirSync(path.join(dir, 'out'));
    expect(
      (await runCli(['backup', '--db', path.join(dir, 'a', 'x.db'), '--out', path.join(dir, 'out')])).code,
    ).toBe(0);
    const good = fs.readFileSync(path.join(dir, 'out', 'x.db.bak1'));
    const run = await runCli(['backup', '--db', path.join(dir, 'b', 'x.db'), '--out', path.join(dir, 'out')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/holds a backup of another database/);
    expect(fs.readFileSync(path.join(dir, 'out', 'x.db.bak1')).equals(good)).toBe(true);
  });
});

describe('B3: a backup dated in the future does not stop periodic backups', () => {
  for (const how of ['mtime', 'record'] as const) {
    it(`future ${how === 'mtime' ? 'file time (no record)' : 'recorded creation time'}: the due time is clamped and logged, the age metric is never negative`, async () => {
      dir = tempDir();
      const text = (interval: number) =>
        `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = ${interval}\n[Pulse]\nticker_interval_seconds = 0.1\n[Server]\nport = 0\n`;
      const config = writeConfig(dir, text(0));
      service = await startService(config);
      expect((await fetch(`${service.url}/backups`)).status).toBe(200);
      expect(await service.stop()).toBe(0);
      const db = path.join(dir, 'data', 'ats.db');
      expect((await runCli(['backup', '--db', db])).code).toBe(0);
      const future = new Date(Date.now() + 190 * 86_400_000);
      if (how === 'mtime') fs.utimesSync(`${db}.bak1`, future, future);
      else {
        const records = JSON.parse(fs.readFileSync(`${db}.backups.json`, 'utf8')) as {
          backups: { createdAt: string }[];
        };
        for (const r of records.backups) r.createdAt = future.toISOString();
        fs.writeFileSync(`${db}.backups.json`, JSON.stringify(records));
      }
      writeConfig(dir, text(3));
      service = await startService(config);
      expect(service.events('backup_due_clamped')).toHaveLength(1);
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      const age = Number(/^ats_backup_newest_age_seconds (\S+)$/m.exec(metrics)?.[1]);
      expect(age).toBeGreaterThanOrEqual(0);
      await waitFor(
        () => service!.events('backup_finish').length === 1,
        15_000,
        'a backup within one interval',
      );
    });
  }
});

describe('B4: a one-off ats backup prunes nothing the configuration does not say, and reports every removal', () => {
  it('with the service’s am.toml (backup_keep = 7), without one, and with an explicit --keep', async () => {
    dir = tempDir();
    const db = path.join(dir, 'ats.db');
    makeDatabase(db, 0.1);
    writeConfig(dir, '[Database]\npath = "ats.db"\nbackup_keep = 7\n');
    expect((await runCli(['backup', '--db', db, '--keep', '1'])).code).toBe(0);
    for (let n = 2; n <= 7; n++) fs.copyFileSync(`${db}.bak1`, `${db}.bak${n}`);
    const generations = () => listDir(dir).filter((f) => /\.bak\d+$/.test(f));

    const withConfig = await runCli(['backup', '--db', 'ats.db'], { cwd: dir });
    expect(withConfig.code, withConfig.stderr).toBe(0);
    expect(generations()).toHaveLength(7);
    expect(withConfig.stdout).toMatch(
      /^removed bak7 .*ats\.db\.bak7 \(taken .*\): the oldest of 7 generations$/m,
    );

    fs.rmSync(path.join(dir, 'am.toml'));
    const without = await runCli(['backup', '--db', db]);
    expect(without.code, without.stderr).toBe(0);
    expect(generations()).toHaveLength(7);

    const explicit = await runCli(['backup', '--db', db, '--keep', '3']);
    expect(explicit.code).toBe(0);
    expect(generations()).toHaveLength(3);
    expect(explicit.stdout.match(/^removed bak\d /gm)).toEqual([
      'removed bak3 ',
      'removed bak4 ',
      'removed bak5 ',
      'removed bak6 ',
      'removed bak7 ',
    ]);
  });
});

describe('B4, the service: every generation it drops is logged', () => {
  it('backup_keep = 2, a backup every second: each rotation logs backup_removed naming bak2 and when it was taken', async () => {
    dir = tempDir();
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_keep = 2\nbackup_interval_seconds = 1\n[Pulse]\nticker_interval_seconds = 0.1\n[Server]\nport = 0\n',
    );
    service = await startService(config);
    await waitFor(() => service!.events('backup_finish').length >= 3, 30_000, 'three backups');
    expect(await service.stop()).toBe(0);
    const removed = service.events('backup_removed');
    service = undefined;
    expect(removed.length).toBeGreaterThanOrEqual(1);
    expect(removed[0]).toMatchObject({ generation: 'bak2', why: 'rotated-out' });
    expect(Date.parse(String(removed[0]!.takenAt))).toBeGreaterThan(0);
  });
});

describe('the unclear cases: verify means valid, symlinked backup_dir, cancellation', () => {
  it('ats verify fails a 0-byte file, /proc/self/status, a truncated file and a file without a header', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    fs.writeFileSync(path.join(dir, 'empty.db'), '');
    fs.writeFileSync(path.join(dir, 'short.db'), fs.readFileSync(db).subarray(0, 4096 * 3 + 100));
    fs.writeFileSync(path.join(dir, 'text.db'), 'x'.repeat(8192));
    const cases: [string, RegExp][] = [
      [path.join(dir, 'empty.db'), /the file is empty \(0 bytes\), not a database/],
      ['/proc/self/status', /the file is empty \(0 bytes\), not a database/],
      [path.join(dir, 'short.db'), /size 12388 bytes is not page_count x page_size/],
      [path.join(dir, 'text.db'), /no SQLite header: not a database file/],
    ];
    for (const [file, problem] of cases) {
      const run = await runCli(['verify', file]);
      expect(run.code, file).toBe(1);
      expect(run.stdout).toMatch(problem);
    }
  });

  it('ats backups shows a 0-byte generation as FAILED, not "0 pages quick_check ok"', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    fs.writeFileSync(`${db}.bak2`, '');
    const run = await runCli(['backups', '--db', db]);
    expect(run.stdout).toMatch(/^bak2 .* - pages {2}quick_check FAILED: the file is empty \(0 bytes\)/m);
  });

  it('a backup_dir that is a symlink to the database folder is not "a namesake": the service starts and backs up', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.symlinkSync('data', path.join(dir, 'bk'));
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_dir = "bk"\n[Server]\nport = 0\n',
    );
    service = await startService(config);
    expect((await put(service.url, [attestation(1)])).status).toBe(201);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
    expect(await service.stop()).toBe(0);
    service = undefined;
    const second = await startService(config); // a restart sees its own database in backup_dir
    service = second;
  });

  it('SIGTERM to ats backup --verify full during verification cancels: exit 1, nothing rotated', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.5);
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const good = fs.readFileSync(`${db}.bak1`);
    const marker = path.join(dir, 'paused');
    const child = spawn(process.execPath, [CLI, 'backup', '--db', db, '--verify', 'full'], {
      env: { ...process.env, ATS_FAULT_POINT: 'verified:pause', ATS_FAULT_MARKER: marker },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => fs.existsSync(marker), 20_000, 'the backup to reach verification');
    child.kill('SIGTERM');
    await waitFor(() => stderr.includes('cancelling'), 10_000, 'the cancel message');
    fs.rmSync(marker);
    expect(await exited).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/cancelled before rotation/);
    expect(fs.readFileSync(`${db}.bak1`).equals(good)).toBe(true);
    expect(fs.existsSync(`${db}.bak2`)).toBe(false);
    expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});

describe('the unclear cases: a user who may read the database but not write its folder', () => {
  // Needs root, to run the CLI as another user (nobody).
  it.skipIf(process.getuid?.() !== 0)(
    'ats verify and ats backup of an idle WAL database say why and what to do',
    async () => {
      dir = tempDir();
      fs.chmodSync(dir, 0o755);
      const db = path.join(dir, 'a.db');
      makeDatabase(db, 0.1);
      fs.chmodSync(db, 0o644);
      const out = path.join(dir, 'out');
      fs.mkdirSync(out, { mode: 0o777 });
      fs.chmodSync(out, 0o777);
      const asNobody = (args: string[]) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [CLI, ...args], { uid: 65534, gid: 65534, cwd: '/' });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        });
      const hint =
        /is a WAL-mode database and reading it needs .*a\.db-shm, which this user \(uid 65534\) cannot create in its folder; run as the database's owner/;
      const verify = await asNobody(['verify', db]);
      expect(verify.code).toBe(1);
      expect(verify.stdout).toMatch(hint);
      const backup = await asNobody(['backup', '--db', db, '--out', out]);
      expect(backup.code).toBe(1);
      expect(backup.stderr).toMatch(hint);
    },
  );
});
