import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attestation,
  corruptIndexPage,
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

function setUp(): { db: string; before: Buffer } {
  dir = tempDir();
  const db = path.join(dir, 'a.db');
  makeDatabase(db, 1, 'delete');
  return { db, before: fs.readFileSync(db) };
}

const put = (url: string, body: unknown) =>
  fetch(`${url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('ats restore refuses, changing nothing', () => {
  it('both --config and --db', async () => {
    const { db, before } = setUp();
    const run = await runCli(['restore', '--db', db, '--config', 'am.toml', '--yes']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/give --config or --db, not both/);
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('without --yes when not on a terminal', async () => {
    const { db, before } = setUp();
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const run = await runCli(['restore', '--db', db]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `Error: restore replaces ${db}: pass --yes to confirm\nTry: ats restore --help\n`,
    );
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('a backup that does not exist', async () => {
    const { db, before } = setUp();
    const run = await runCli(['restore', '--db', db, '--from', 'bak2', '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`Error: restore from ${db}.bak2: no such file\n`);
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('a corrupt backup', async () => {
    const { db, before } = setUp();
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    corruptIndexPage(`${db}.bak1`);
    const run = await runCli(['restore', '--db', db, '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^Error: restore from ${db}\\.bak1: the backup fails quick_check .*; nothing was changed\\n$`,
      ),
    );
    expect(fs.readFileSync(db).equals(before)).toBe(true);
    expect(listDir(dir).filter((f) => f.includes('restore') || f.includes('.tmp'))).toEqual([]);
  });

  it('while a service holds the database, naming it', async () => {
    dir = tempDir();
    const config = writeConfig(dir, '[Database]\npath = "data/ats.db"\n[Server]\nport = 0\n');
    service = await startService(config);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
    const run = await runCli(['restore', '--config', config, '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: database ${path.join(dir, 'data', 'ats.db')} is in use by ats serve, pid ${service.child.pid}: stop it before restoring\n`,
    );
  });
});

describe('ats restore', () => {
  it("then start gives exactly the backup's rows; the replaced database is kept complete (its WAL checkpointed into it), no stale -wal is left", async () => {
    dir = tempDir();
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n',
    );
    const db = path.join(dir, 'data', 'ats.db');
    service = await startService(config);
    const first = (
      (await (
        await put(
          service.url,
          Array.from({ length: 30 }, (_, i) => attestation(i)),
        )
      ).json()) as { ids: string[] }
    ).ids;
    expect((await fetch(`${service.url}/backups`, { method: 'POST' })).status).toBe(202);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the backup');
    expect(
      (
        await put(
          service.url,
          Array.from({ length: 20 }, (_, i) => attestation(100 + i)),
        )
      ).status,
    ).toBe(201);
    await service.stop('SIGKILL'); // a crash: the WAL may still hold the last writes
    service = undefined;

    const run = await runCli(['restore', '--config', config, '--yes']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const keptAs = /kept as (\S+)\n$/.exec(run.stdout)?.[1];
    expect(run.stdout).toMatch(
      new RegExp(
        `^restored ${db} from ${db}\\.bak1 \\(.*, quick_check ok\\); the database it replaced is kept as ${db}\\.pre-restore-\\d{8}T\\d{6}\\.\\d{3}Z\\n$`,
      ),
    );
    expect(fs.existsSync(`${db}-wal`)).toBe(false);
    expect(fs.existsSync(`${db}-shm`)).toBe(false);
    expect(listDir(path.join(dir, 'data')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const old = new Database(keptAs!, { readonly: true });
    expect((old.prepare('SELECT count(*) AS n FROM attestations').get() as { n: number }).n).toBe(50); // nothing lost
    old.close();

    service = await startService(config);
    const rows = (
      (await (await fetch(`${service.url}/attestations?limit=1000`)).json()) as {
        attestations: { id: string }[];
      }
    ).attestations;
    expect(rows.map((r) => r.id).sort()).toEqual([...first].sort());
  });
});

describe('ats verify and ats backups', () => {
  it('verify: ok exits 0, a corrupt file exits 1 with the problems, a missing one exits 1', async () => {
    const { db } = setUp();
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const ok = await runCli(['verify', `${db}.bak1`]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^${db}\\.bak1: ok \\(quick_check, \\d+ ms\\)\\n$`));
    const full = await runCli(['verify', `${db}.bak1`, '--full', '--json']);
    expect(JSON.parse(full.stdout)).toMatchObject({
      file: `${db}.bak1`,
      mode: 'full',
      ok: true,
      problems: [],
    });
    corruptIndexPage(`${db}.bak1`);
    const bad = await runCli(['verify', `${db}.bak1`]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/: FAILED quick_check:\n {2}\S/);
    const missing = await runCli(['verify', path.join(dir, 'none.db')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`Error: verify ${path.join(dir, 'none.db')}: no such file\n`);
  });

  it('backups: lists each generation with time, size, pages and a check, as text or JSON', async () => {
    const { db } = setUp();
    expect((await runCli(['backups', '--db', db])).stdout).toBe(
      `no backups of ${db} (looked for ${db}.bak1)\n`,
    );
    for (let i = 0; i < 2; i++) expect((await runCli(['backup', '--db', db])).code).toBe(0);
    corruptIndexPage(`${db}.bak2`);
    const text = await runCli(['backups', '--db', db]);
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^bak1  \\d{4}-\\d\\d-\\d\\dT\\S+Z +\\d+\\.\\d MiB +\\d+ pages  quick_check ok  ${db}\\.bak1$`,
      ),
    );
    expect(lines[1]).toMatch(/^bak2 .* quick_check FAILED: /);
    const json = JSON.parse((await runCli(['backups', '--db', db, '--json'])).stdout) as {
      backups: { generation: string; bytes: number; pages: number | null; verify: { ok: boolean } }[];
    };
    expect(json.backups.map((b) => [b.generation, b.verify.ok])).toEqual([
      ['bak1', true],
      ['bak2', false],
    ]);
    expect(json.backups[0]!.bytes).toBe(json.backups[0]!.pages! * 4096);
  });
});
