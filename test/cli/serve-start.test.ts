import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FAULTS } from '../faults/catalog.js';
import {
  corruptIndexPage,
  listDir,
  makeDatabase,
  runCli,
  type Service,
  startService,
  tempDir,
  waitFor,
} from '../helpers.js';

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// Each bad am.toml stops start-up with exit 2, a message naming the file and key, and nothing created.
const BAD_CONFIGS: [string, string, RegExp][] = [
  ['TOML syntax error', '[Database]\npath = "x.db\n', /am\.toml:2.*/],
  [
    'wrong type',
    '[Database]\nbackup_interval_seconds = "hourly"\n',
    /am\.toml:2: \[Database\] backup_interval_seconds must be a whole number/,
  ],
  [
    'negative number',
    '[Database]\nbackup_interval_seconds = -5\n',
    /\[Database\] backup_interval_seconds must be a whole number >= 0 \(got -5\)/,
  ],
  ['float where whole', '[Database]\nbackup_keep = 2.5\n', /\[Database\] backup_keep must be a whole number/],
  ['out of range port', '[Server]\nport = 70000\n', /\[Server\] port/],
  [
    'unknown key',
    '[Database]\nbackup_intervall_seconds = 60\n',
    /backup_intervall_seconds.*did you mean backup_interval_seconds/,
  ],
  ['unknown section', '[Databse]\npath = "x.db"\n', /Databse/],
  ['bad verify word', '[Database]\nbackup_verify = "fast"\n', /\[Database\] backup_verify/],
  ['empty path', '[Database]\npath = ""\n', /\[Database\] path/],
  [
    'non-loopback host without token',
    '[Server]\nhost = "0.0.0.0"\n',
    /\[Server\] host 0\.0\.0\.0 is not loopback: set \[Server\] token or ATS_TOKEN/,
  ],
];

describe('ats serve refuses a bad am.toml', () => {
  it('tries every bad config in the catalog', () =>
    expect(BAD_CONFIGS.length + 2).toBe(FAULTS['bad-config'].trials)); // + missing, folder
  it.each(BAD_CONFIGS)('%s', async (_name, text, message) => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'am.toml'), text);
    const run = await runCli(['serve', '--config', 'am.toml'], { cwd: dir, env: { ATS_TOKEN: '' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Error: /);
    expect(run.stderr).toMatch(message);
    expect(listDir(dir)).toEqual(['am.toml']);
  });

  it('a config path that is missing or a folder', async () => {
    dir = tempDir();
    const missing = await runCli(['serve', '--config', 'nope.toml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.toml does not exist/);
    fs.mkdirSync(path.join(dir, 'conf'));
    const folder = await runCli(['serve', '--config', 'conf'], { cwd: dir });
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(/conf/);
    expect(listDir(dir)).toEqual(['conf']);
  });
});

describe('ats serve starting up', () => {
  it('runs on the embedded defaults: ./data/ats.db created, bound to loopback', async () => {
    dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'am.toml'),
      '[Server]\nport = 0 # the default 8787 may be taken by a parallel test\n',
    );
    service = await startService(path.join(dir, 'am.toml'), { cwd: dir });
    expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fs.existsSync(path.join(dir, 'data', 'ats.db'))).toBe(true);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it('creates the database folder and the backup folder when they are new and apart', async () => {
    dir = tempDir();
    fs.writeFileSync(
      path.join(dir, 'am.toml'),
      '[Database]\npath = "db/ats.db"\nbackup_dir = "backups/nightly"\n[Server]\nport = 0\n',
    );
    service = await startService(path.join(dir, 'am.toml'));
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
    expect(listDir(path.join(dir, 'db'))).toContain('ats.db');
    expect(listDir(path.join(dir, 'backups', 'nightly'))).toContain('ats.db.bak1');
  });

  it('says clearly when its port is taken', async () => {
    dir = tempDir();
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    fs.writeFileSync(path.join(dir, 'am.toml'), `[Server]\nport = ${port}\n`);
    const run = await runCli(['serve'], { cwd: dir });
    taken.close();
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: cannot listen on 127.0.0.1:${port} ([Server] host and port): EADDRINUSE\n`,
    );
  });

  it('refuses a backup_dir that already holds another file named like the database', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'other'));
    makeDatabase(path.join(dir, 'other', 'ats.db'), 0.1);
    fs.writeFileSync(
      path.join(dir, 'am.toml'),
      '[Database]\npath = "data/ats.db"\nbackup_dir = "other"\n[Server]\nport = 0\n',
    );
    const run = await runCli(['serve'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: [Database] backup_dir ${path.join(dir, 'other')} already holds a file named like the database (${path.join(dir, 'other', 'ats.db')}): its backups would be mixed up with ours; choose another backup_dir\n`,
    );
    expect(listDir(path.join(dir, 'other'))).toEqual(['ats.db']);
  });

  it('refuses a database that fails quick_check and names the backup to restore', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'));
    const db = path.join(dir, 'data', 'ats.db');
    makeDatabase(db, 1, 'delete');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    corruptIndexPage(db);
    const before = fs.readFileSync(db);
    fs.writeFileSync(path.join(dir, 'am.toml'), '[Server]\nport = 0\n');
    const run = await runCli(['serve'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `database ${db} fails quick_check .*; the newest good backup is ${db}\\.bak1: restore it with \`ats restore --from bak1 --config ${path.join(dir, 'am.toml')}\``,
      ),
    );
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });
});
