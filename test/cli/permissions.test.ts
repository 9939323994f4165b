import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../dist/config/index.js';
import { attestation, removeDir, type Service, startService, tempDir, waitFor } from '../helpers.js';

// Under `umask 000` (anyone may write what a process creates), what `ats serve` creates is its
// owner's alone. The umask is the test process's, inherited by the service it spawns.
let dir: string;
let service: Service | undefined;
let umask: number | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
  if (umask !== undefined) process.umask(umask);
  umask = undefined;
  if (dir) removeDir(dir);
});

const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);
/** The service lock's owner file (its name carries the database's device and inode). */
const ownerFile = (folder: string): string => {
  const owners = fs.readdirSync(folder).filter((f) => f.endsWith('.serve.lock.owner'));
  expect(owners).toHaveLength(1);
  return path.join(folder, owners[0] as string);
};

describe('permissions of what ats serve creates', () => {
  it('folders 0700, database and its -wal 0600, lock-owner file 0600, backups no wider than the database', async () => {
    dir = tempDir();
    const config = path.join(dir, 'am.toml');
    fs.writeFileSync(
      config,
      '[Database]\npath = "data/ats.db"\nbackup_dir = "backups/nightly"\nbackup_interval_seconds = 1\n[Pulse]\nticker_interval_seconds = 0.05\n[Server]\nport = 0\n',
    );
    umask = process.umask(0o000);
    service = await startService(config);
    const response = await fetch(`${service.url}/attestations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(attestation(1)),
    });
    expect(response.status).toBe(201);
    await waitFor(() => service!.events('backup_finish').length > 0, 20_000, 'a backup');
    expect({
      data: mode(path.join(dir, 'data')),
      backups: mode(path.join(dir, 'backups')),
      nightly: mode(path.join(dir, 'backups', 'nightly')),
      db: mode(path.join(dir, 'data', 'ats.db')),
      wal: mode(path.join(dir, 'data', 'ats.db-wal')),
      owner: mode(ownerFile(path.join(dir, 'data'))),
      bak1: mode(path.join(dir, 'backups', 'nightly', 'ats.db.bak1')),
    }).toEqual({
      data: '700',
      backups: '700',
      nightly: '700',
      db: '600',
      wal: '600',
      owner: '600',
      bak1: '600',
    });
  });

  it('keeps the mode of a database that already exists', async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'data'), { mode: 0o750 });
    const config = path.join(dir, 'am.toml');
    fs.writeFileSync(config, '[Database]\npath = "data/ats.db"\n[Server]\nport = 0\n');
    service = await startService(config);
    await service.stop();
    service = undefined;
    fs.chmodSync(path.join(dir, 'data', 'ats.db'), 0o640);
    service = await startService(config);
    expect(mode(path.join(dir, 'data', 'ats.db'))).toBe('640');
    expect(mode(path.join(dir, 'data'))).toBe('750');
  });
});

describe('tokens', () => {
  it('a token with white space around it (a secret file with its newline) is trimmed', () => {
    const config = parseConfig('[Server]\nhost = "0.0.0.0"\n', '/x/am.toml', {
      env: { ATS_TOKEN: ' s3cret\n' },
    });
    expect(config.server.token).toBe('s3cret');
    const fromFile = parseConfig('[Server]\ntoken = "s3cret\\n"\n', '/x/am.toml', { env: {} });
    expect(fromFile.server.token).toBe('s3cret');
  });
});
