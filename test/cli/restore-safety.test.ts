// Issue 12, data loss D1-D4: restore never runs under anyone using the database, copies exactly
// what it verified (WAL included), and leaves no crash window. Through the real CLI and service.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FAULTS } from '../faults/catalog.js';
import {
  attestation,
  CLI,
  countRows,
  crashWriter,
  integrity,
  listDir,
  makeDatabase,
  runCli,
  type Service,
  startHolder,
  startService,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers.js';

let dir: string;
let service: Service | undefined;
let holder: ChildProcess | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  holder?.kill('SIGKILL');
  holder = undefined;
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

/** Files beside the database that a restore must not leave: its temporary copy and SQLite sidecars of it. */
function junk(folder: string): string[] {
  return listDir(folder).filter((f) => /\.restore\.tmp|\.pre-restore-.*\.tmp$|\.tmp-(wal|shm)$/.test(f));
}

/** The kept copies of replaced databases (final names only). */
function keptCopies(folder: string, name: string): string[] {
  return listDir(folder)
    .filter((f) => f.startsWith(`${name}.pre-restore-`) && !/(-wal|-shm|-journal|\.tmp)$/.test(f))
    .map((f) => path.join(folder, f));
}

describe('D1: restore refuses while a service uses the database under another name', () => {
  it('a symlink: serve on current.db -> data/ats.db, restore --db data/ats.db is refused and no acknowledged row is lost', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'));
    fs.symlinkSync('data/ats.db', path.join(dir, 'current.db'));
    const config = writeConfig(
      dir,
      '[Database]\npath = "current.db"\nbackup_dir = "data"\n[Server]\nport = 0\n',
    );
    service = await startService(config);
    expect((await put(service.url, [attestation(1), attestation(2)])).status).toBe(201);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
    const real = path.join(dir, 'data', 'ats.db');
    const run = await runCli([
      'restore',
      '--db',
      real,
      '--from',
      `${path.join(dir, 'data', 'current.db.bak1')}`,
      '--yes',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/in use by ats serve, pid \d+|is open by process \d+/);
    // The service still writes into the one database there is.
    expect((await put(service.url, [attestation(3)])).status).toBe(201);
    expect(await service.stop()).toBe(0);
    service = undefined;
    expect(attestations(real)).toBe(3);
    expect(keptCopies(path.join(dir, 'data'), 'ats.db')).toEqual([]);
  });

  it('a hard link in another folder: refused too (the database is open, whatever its name)', async () => {
    dir = tempDir();
    const config = writeConfig(dir, '[Database]\npath = "data/ats.db"\n[Server]\nport = 0\n');
    service = await startService(config);
    expect((await put(service.url, [attestation(1)])).status).toBe(201);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
    fs.mkdirSync(path.join(dir, 'other'));
    const alias = path.join(dir, 'other', 'ats.db');
    fs.linkSync(path.join(dir, 'data', 'ats.db'), alias);
    const run = await runCli([
      'restore',
      '--db',
      alias,
      '--from',
      path.join(dir, 'data', 'ats.db.bak1'),
      '--yes',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/is open by process \d+/);
    expect(keptCopies(path.join(dir, 'other'), 'ats.db')).toEqual([]);
  });
});

describe('D1: a bind mount of the database file', () => {
  const canMount = (() => {
    const probe = fs.mkdtempSync('/tmp/ats-bind-probe-');
    try {
      execFileSync('mount', ['--bind', probe, probe], { stdio: 'ignore' });
      execFileSync('umount', [probe]);
      return true;
    } catch {
      return false; // no permission to mount here
    } finally {
      fs.rmSync(probe, { recursive: true, force: true });
    }
  })();

  it.skipIf(!canMount)(
    'restore --db through a bind mount of the database file under another name is refused',
    async () => {
      dir = tempDir();
      const config = writeConfig(dir, '[Database]\npath = "data/ats.db"\n[Server]\nport = 0\n');
      service = await startService(config);
      await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the first backup');
      fs.mkdirSync(path.join(dir, 'other'));
      const alias = path.join(dir, 'other', 'x.db');
      fs.writeFileSync(alias, '');
      execFileSync('mount', ['--bind', path.join(dir, 'data', 'ats.db'), alias]);
      try {
        const from = path.join(dir, 'data', 'ats.db.bak1');
        const run = await runCli(['restore', '--db', alias, '--from', from, '--yes']);
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toMatch(
          new RegExp(`is open by process ${service.child.pid}: stop it before restoring`),
        );
        expect((await put(service.url, [attestation(9)])).status).toBe(201);
      } finally {
        execFileSync('umount', ['-l', alias]);
      }
    },
  );
});

describe('D2: restore copies what it verified, WAL included, and refuses the database itself', () => {
  it('--from a WAL-mode file whose -wal holds committed rows restores every row and leaves no -wal/-shm junk', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    const from = path.join(dir, 'old.db');
    makeDatabase(db, 0.2);
    makeDatabase(from, 0.2);
    const inMain = countRows(from);
    await crashWriter(from, 'wal', 300); // 300 more rows, only in old.db-wal
    expect(fs.statSync(`${from}-wal`).size).toBeGreaterThan(0);
    const sidecarsBefore = listDir(dir).filter((f) => f.startsWith('old.db'));
    const run = await runCli(['restore', '--db', db, '--from', from, '--yes']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(countRows(db)).toBe(inMain + 300);
    expect(integrity(db)).toBe('ok');
    expect(junk(dir)).toEqual([]);
    expect(fs.existsSync(`${db}-wal`)).toBe(false);
    expect(listDir(dir).filter((f) => f.startsWith('old.db'))).toEqual(sidecarsBefore);
  });

  it('the undo of a restore (--from the .pre-restore file it kept) gives back every row', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2);
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    await crashWriter(db, 'wal', 400); // the live database: its newest rows only in a.db-wal
    const before = countRows(db);
    const first = await runCli(['restore', '--db', db, '--yes']);
    expect(first.code, first.stderr).toBe(0);
    const kept = /kept as (\S+)\n$/.exec(first.stdout)![1]!;
    expect(countRows(kept)).toBe(before);
    const undo = await runCli(['restore', '--db', db, '--from', kept, '--yes']);
    expect(undo.code, undo.stderr).toBe(0);
    expect(countRows(db)).toBe(before);
    expect(junk(dir)).toEqual([]);
  });

  it('--from the database itself through a symlink or a hard link is refused, nothing changed', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    const before = fs.readFileSync(db);
    fs.symlinkSync(db, path.join(dir, 'link.db'));
    fs.linkSync(db, path.join(dir, 'hard.db'));
    for (const alias of ['link.db', 'hard.db']) {
      const run = await runCli(['restore', '--db', db, '--from', path.join(dir, alias), '--yes']);
      expect(run.code, alias).toBe(2);
      expect(run.stderr).toMatch(/the backup is the database .* itself/);
    }
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it("keeps the replaced database's file mode: a 0600 database restored from a 0644 backup stays 0600", async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    fs.chmodSync(`${db}.bak1`, 0o644);
    fs.chmodSync(db, 0o600);
    const run = await runCli(['restore', '--db', db, '--yes']);
    expect(run.code, run.stderr).toBe(0);
    expect(fs.statSync(db).mode & 0o777).toBe(0o600);
  });
});

// Every step of a restore, in order; ATS_FAULT_POINT makes the CLI SIGKILL itself there.
const RESTORE_POINTS = [
  'restore-taken',
  'copy-step',
  'restore-copied',
  'restore-set-aside',
  'restore-renamed',
  'restore-kept',
];

describe('D3: SIGKILL at every step of a restore loses no committed row', () => {
  it('covers every step in the catalog, in both journal modes', () =>
    expect(RESTORE_POINTS.length * 2).toBe(FAULTS['kill-restore'].trials));

  for (const mode of ['wal', 'delete'] as const) {
    it.each(RESTORE_POINTS)(
      `${mode} mode, committed rows only in the ${mode === 'wal' ? '-wal' : 'main file, hot -journal'}: killed at %s`,
      async (point) => {
        dir = tempDir();
        const db = path.join(dir, 'a.db');
        makeDatabase(db, 0.2, mode);
        expect((await runCli(['backup', '--db', db])).code).toBe(0);
        const backedUp = countRows(`${db}.bak1`);
        await crashWriter(db, mode, 250);
        expect(fs.existsSync(`${db}-${mode === 'wal' ? 'wal' : 'journal'}`)).toBe(true);
        const committed = backedUp + 250;

        const crashed = await runCli(['restore', '--db', db, '--yes'], { env: { ATS_FAULT_POINT: point } });
        expect(crashed.signal, `${point}: ${crashed.stderr}`).toBe('SIGKILL');
        // At every instant the database is the complete old one or the complete restored one.
        expect(integrity(db)).toBe('ok');
        expect([committed, backedUp]).toContain(countRows(db));
        // A kept copy is complete and never shares its inode with the live file.
        for (const kept of keptCopies(dir, 'a.db')) {
          expect(fs.statSync(kept).ino).not.toBe(fs.statSync(db).ino);
          expect(countRows(kept)).toBe(committed);
        }

        const next = await runCli(['restore', '--db', db, '--yes']);
        expect(next.code, next.stderr).toBe(0);
        expect(countRows(db)).toBe(backedUp);
        const kept = keptCopies(dir, 'a.db');
        expect(kept.map(countRows)).toContain(committed); // the committed rows survive in a kept copy
        for (const k of kept) expect(integrity(k)).toBe('ok');
        expect(junk(dir)).toEqual([]);
      },
    );
  }
});

describe('D4: restore refuses while another program has the database open', () => {
  for (const mode of ['wal', 'delete'] as const) {
    it(`an idle better-sqlite3 connection (${mode} mode) that committed a row: refused, nothing changed, its -shm left alone`, async () => {
      dir = tempDir();
      const db = path.join(dir, 'a.db');
      makeDatabase(db, 0.2, mode);
      expect((await runCli(['backup', '--db', db])).code).toBe(0);
      holder = await startHolder(db, 'idle');
      const rows = countRows(db);
      const sidecars = listDir(dir).filter((f) => /-(wal|shm)$/.test(f));
      const run = await runCli(['restore', '--db', db, '--yes']);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`is open by process ${holder.pid}: stop it before restoring`));
      expect(countRows(db)).toBe(rows);
      expect(listDir(dir).filter((f) => /-(wal|shm)$/.test(f))).toEqual(sidecars);
      expect(keptCopies(dir, 'a.db')).toEqual([]);
    });
  }
});

describe('ats restore: the unclear cases', () => {
  it('--from bak1 --yes with no am.toml names the backup it looked for, not a lock file', async () => {
    dir = tempDir();
    const run = await runCli(['restore', '--from', 'bak1', '--yes'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `Error: restore from ${fs.realpathSync(dir)}/data/ats.db.bak1: no such file (no am.toml here and no --db: the default database ${fs.realpathSync(dir)}/data/ats.db)\n`,
    );
  });

  it('a 0-byte file and /proc/self/status are refused as backups; the database is untouched', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    const before = fs.readFileSync(db);
    fs.writeFileSync(path.join(dir, 'empty.db'), '');
    for (const from of [path.join(dir, 'empty.db'), '/proc/self/status']) {
      const run = await runCli(['restore', '--db', db, '--from', from, '--yes']);
      expect(run.code, from).toBe(1);
      expect(run.stderr).toMatch(
        /the backup fails quick_check \(the file is empty \(0 bytes\), not a database\); nothing was changed/,
      );
    }
    expect(fs.readFileSync(db).equals(before)).toBe(true);
  });

  it('a restored database starts a new lineage whose parent is the backup’s, and its next backup rotates over its ancestors', async () => {
    dir = tempDir();
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n',
    );
    service = await startService(config);
    expect((await put(service.url, [attestation(1)])).status).toBe(201);
    expect((await fetch(`${service.url}/backups`, { method: 'POST' })).status).toBe(202);
    await waitFor(() => service!.events('backup_finish').length === 1, 20_000, 'the backup');
    expect(await service.stop()).toBe(0);
    service = undefined;
    const db = path.join(dir, 'data', 'ats.db');
    const lineage = (file: string) => {
      const conn = new Database(file, { readonly: true });
      try {
        return conn.prepare('SELECT id, parent FROM ats_lineage ORDER BY seq').all() as {
          id: string;
          parent: string | null;
        }[];
      } finally {
        conn.close();
      }
    };
    const original = lineage(db);
    expect(original).toHaveLength(1);
    expect((await runCli(['restore', '--config', config, '--yes'])).code).toBe(0);
    const restored = lineage(db);
    expect(restored).toHaveLength(2);
    expect(restored[1]!.parent).toBe(original[0]!.id);
    const next = await runCli(['backup', '--db', db]);
    expect(next.code, next.stderr).toBe(0);
  });
});

describe('ats restore checks what the catalogue recorded', () => {
  it('a backup whose bytes changed since it was taken (quick_check still ok) is refused by its checksum', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2, 'delete');
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    const bak1 = `${db}.bak1`;
    const before = fs.statSync(bak1);
    const bytes = fs.readFileSync(bak1);
    const at = bytes.indexOf('seed 7 ');
    bytes.write('SEED', at); // a flipped value inside a row: no b-tree check can see it
    fs.writeFileSync(bak1, bytes);
    fs.utimesSync(bak1, before.atimeMs / 1000, before.mtimeMs / 1000); // as bit rot would: the file time unchanged
    expect(integrity(bak1)).toBe('ok');
    const original = fs.readFileSync(db);
    const run = await runCli(['restore', '--db', db, '--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/does not match the sha256 recorded when it was taken .*nothing was changed/);
    expect(fs.readFileSync(db).equals(original)).toBe(true);
  });
});

describe('ats restore honours cancellation up to the rename', () => {
  it('SIGTERM after the copy is checked: exit 1, the database as it was (still in WAL mode), no kept copy', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2);
    expect((await runCli(['backup', '--db', db])).code).toBe(0);
    await crashWriter(db, 'wal', 100);
    const rows = countRows(db);
    const marker = path.join(dir, 'paused');
    const child = spawn(process.execPath, [CLI, 'restore', '--db', db, '--yes'], {
      env: { ...process.env, ATS_FAULT_POINT: 'restore-copied:pause', ATS_FAULT_MARKER: marker },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await waitFor(() => fs.existsSync(marker), 20_000, 'the restore to finish its copy');
    child.kill('SIGTERM'); // handled once the paused main thread runs again
    fs.rmSync(marker);
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/cancelled; nothing was changed/);
    expect(keptCopies(dir, 'a.db')).toEqual([]);
    expect(junk(dir)).toEqual([]);
    const conn = new Database(db, { readonly: true });
    expect(conn.pragma('journal_mode', { simple: true })).toBe('wal');
    conn.close();
    expect(integrity(db)).toBe('ok');
    expect(countRows(db)).toBe(rows);
  });
});
