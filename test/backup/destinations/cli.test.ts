// The off-site commands as users run them, against a real s3rver: ats backup --to, ats backups
// --from, ats restore --from (onto a machine with no database), ats verify URL[/ID]; bad URLs and
// keys refused before anything is uploaded.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRemoteBackups, openDestination } from '../../../dist/backup/index.js';
import { countRows, makeDatabase, removeDir, runCli, tempDir } from '../../helpers.js';
import { type S3Server, startS3Server } from './s3-server.js';

let server: S3Server;
let dir: string;
let run = 0;

beforeAll(async () => {
  server = await startS3Server();
  dir = tempDir('ats-offsite-cli-');
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

function fresh(): { db: string; url: string; rows: number } {
  const db = path.join(dir, `db-${++run}`, 'ats.db');
  fs.mkdirSync(path.dirname(db));
  makeDatabase(db, 2);
  return { db, url: `s3://${server.bucket}/cli/run-${run}`, rows: countRows(db) };
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...server.env, ...env } });

describe('ats backup --to / backups --from / restore --from / verify URL', () => {
  it('backs up, lists, verifies and restores onto a machine with no database, row for row', async () => {
    const { db, url, rows } = fresh();
    const up = await cli(['backup', '--db', db, '--to', url]);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^backup ok: /m);
    expect(up.stdout).toMatch(new RegExp(`^uploaded ${url}/\\d{8}T\\d{9}Z-`, 'm'));
    expect(fs.existsSync(`${db}.bak1`)).toBe(true); // the local backup is there too

    const listed = await cli(['backups', '--from', url, '--json']);
    expect(listed.code).toBe(0);
    const { backups } = JSON.parse(listed.stdout) as {
      backups: { id: string; bytes: number; sha256: string }[];
    };
    expect(backups).toHaveLength(1);
    expect(backups[0]?.bytes).toBe(fs.statSync(`${db}.bak1`).size);
    const id = backups[0]?.id ?? '';

    const checked = await cli(['verify', `${url}/${id}`]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain(': ok (checksum, quick_check');

    const elsewhere = path.join(dir, `new-machine-${run}`, 'data', 'ats.db'); // its folder does not exist
    const restored = await cli(['restore', '--db', elsewhere, '--from', url, '--yes']);
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`restored ${elsewhere} from ${url}/${id}`);
    expect(countRows(elsewhere)).toBe(rows);
    expect(fs.readdirSync(path.dirname(elsewhere)).filter((n) => n.includes('.tmp'))).toEqual([]);

    // A second backup; --id picks the older one.
    const db2 = await cli(['backup', '--db', db, '--to', url]);
    expect(db2.code).toBe(0);
    const again = await cli(['restore', '--db', elsewhere, '--from', url, '--id', id, '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`from ${url}/${id}`);
    expect(countRows(elsewhere)).toBe(rows);
    const all = await cli(['verify', url]);
    expect(all.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('encrypts with a key file; restore and verify without the key are refused, with it they work', async () => {
    const { db, url, rows } = fresh();
    const keyFile = path.join(dir, `key-${run}`);
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'));
    expect((await cli(['backup', '--db', db, '--to', url, '--encryption-key-file', keyFile])).code).toBe(0);
    const target = path.join(dir, `enc-${run}.db`);
    const refused = await cli(['restore', '--db', target, '--from', url, '--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/it is encrypted \(key id [0-9a-f]{16}\)/);
    // Refused onto a path with no database: nothing is left there, not even the restore's lock file.
    const beside = (): string[] => fs.readdirSync(dir).filter((n) => n.startsWith(path.basename(target)));
    expect(beside()).toEqual([]);
    expect((await cli(['verify', url])).code).toBe(1);
    const withKey = await cli([
      'restore',
      '--db',
      target,
      '--from',
      url,
      '--yes',
      '--encryption-key-file',
      keyFile,
    ]);
    expect(withKey.code).toBe(0);
    expect(countRows(target)).toBe(rows);
    expect(beside().filter((n) => n.includes('lock'))).toEqual([]);
    const env = { ATS_BACKUP_ENCRYPTION_KEY: fs.readFileSync(keyFile, 'utf8') };
    expect((await cli(['verify', url], env)).code).toBe(0);
    expect((await cli(['verify', url, '--encryption-key-file', keyFile])).code).toBe(0);
  });

  it('a malformed URL or a missing key file is refused before the backup: exit 2, nothing uploaded', async () => {
    const { db, url } = fresh();
    const bad = await cli(['backup', '--db', db, '--to', 's3://No_Such/bucket']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bucket "No_Such" .* is not a valid bucket name/);
    const noKey = await cli([
      'backup',
      '--db',
      db,
      '--to',
      url,
      '--encryption-key-file',
      path.join(dir, 'absent.key'),
    ]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/read encryption key .*absent\.key: ENOENT/);
    expect(fs.existsSync(`${db}.bak1`)).toBe(false);
    expect(await listRemoteBackups(openDestination(url, { env: server.env }))).toEqual([]);
  });

  it('an unreachable server fails the upload (exit 1) but the local backup is made and kept', async () => {
    const { db, url, rows } = fresh();
    const down = await cli(['backup', '--db', db, '--to', url], {
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', // nothing listens on the discard port
    });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^backup ok: /m);
    expect(down.stderr).toMatch(/ATS_BACKUP_REMOTE|upload s3:\/\/.*the local backup .*bak1 is kept/);
    expect(countRows(`${db}.bak1`)).toBe(rows);
  });
});
