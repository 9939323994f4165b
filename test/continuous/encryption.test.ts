// Encrypted continuous destinations (design note, failure sequence 10: "encryption without a
// key"): with encryption_key_file every segment and snapshot is stored encrypted (no row's bytes
// in clear), a restore with the key equals the primary row for row, and a restore without the key
// or with another one fails naming the destination and what is missing, installing nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EncryptingStore,
  FolderStore,
  isEncryptedHeader,
  loadKeyFile,
  restoreContinuous,
} from '../../dist/backup/index.js';
import { attestation, runCli, type Service, startService, tempDir, writeConfig } from '../helpers.js';
import { idsIn, objectKeys, Primary } from './primary.js';

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

function rows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id, ts, subjects, attributes FROM attestations ORDER BY seq').all();
  } finally {
    db.close();
  }
}

function writeKey(file: string): void {
  fs.writeFileSync(file, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
}

/** Every stored object under the destination, with its bytes. */
function stored(remote: string): { key: string; bytes: Buffer }[] {
  return objectKeys(remote).map((key) => ({ key, bytes: fs.readFileSync(path.join(remote, key)) }));
}

/**
 * Runs `ats serve` with a continuous destination (key or not), writes rows carrying `marker`
 * acknowledged off-site, waits for a periodic snapshot taken after them, stops it.
 */
async function shipWithMarker(keyed: boolean, marker: string): Promise<{ remote: string; db: string }> {
  dir = tempDir('ats-cont-enc-');
  if (keyed) writeKey(path.join(dir, 'key'));
  const config = writeConfig(
    dir,
    '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n' +
      `[[Database.destination]]\nurl = "remote"\ncontinuous = true\nsync_interval_seconds = 0.3\nsnapshot_interval_seconds = 2\n${keyed ? 'encryption_key_file = "key"\n' : ''}\n` +
      '[Pulse]\nticker_interval_seconds = 0.2\n\n[Server]\nport = 0\n',
  );
  service = await startService(config);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${service.url}/attestations?durable=offsite`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([attestation(i, { attributes: { marker } })]),
    });
    expect(res.status).toBe(201);
  }
  const s = service;
  // A periodic snapshot after the writes: the snapshot's pages hold the marker too.
  const snapshotsBefore = s.events('continuous_snapshot').length;
  const deadline = Date.now() + 20_000;
  while (s.events('continuous_snapshot').length === snapshotsBefore && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  expect(s.events('continuous_snapshot').length).toBeGreaterThan(snapshotsBefore);
  expect(await s.stop('SIGTERM')).toBe(0);
  service = undefined;
  return { remote: path.join(dir, 'remote'), db: path.join(dir, 'data', 'ats.db') };
}

describe('encrypted continuous destinations through ats serve and ats restore', () => {
  it('plain destination (control): the marker is in the stored bytes', async () => {
    const marker = `MARKER-${crypto.randomBytes(8).toString('hex')}`;
    const { remote } = await shipWithMarker(false, marker);
    const objects = stored(remote);
    expect(objects.some((o) => o.bytes.includes(marker))).toBe(true);
    expect(objects.every((o) => !isEncryptedHeader(o.bytes))).toBe(true);
  });

  it('with a key: no object holds the marker, every one is encrypted; the key restores it row for row; no key or another key fails, installing nothing', async () => {
    const marker = `MARKER-${crypto.randomBytes(8).toString('hex')}`;
    const { remote, db } = await shipWithMarker(true, marker);
    const objects = stored(remote);
    expect(objects.filter((o) => o.key.endsWith('.seg')).length).toBeGreaterThan(0);
    expect(objects.filter((o) => o.key.endsWith('.snap')).length).toBeGreaterThan(1);
    for (const o of objects) {
      expect(o.bytes.includes(marker), o.key).toBe(false);
      expect(o.bytes.includes(Buffer.from('SQLite format 3')), o.key).toBe(false);
      expect(isEncryptedHeader(o.bytes), o.key).toBe(true);
    }
    const keyFile = path.join(dir, 'key');
    const keyId = loadKeyFile(keyFile).keyId;
    // Listing reads only the headers, which are in clear: no key needed.
    const list = await runCli(['backups', '--from', remote], { env: { ATS_BACKUP_ENCRYPTION_KEY: '' } });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('newest position');

    const out = path.join(dir, 'restored.db');
    const ok = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote,
      '--encryption-key-file',
      keyFile,
      '--yes',
    ]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(rows(out)).toEqual(rows(db));
    expect(rows(out)).toHaveLength(3);

    // No key: exit 2 (ATS_BACKUP_KEY), naming the destination, the key id, and how to give it.
    const none = path.join(dir, 'none.db');
    const noKey = await runCli(['restore', '--db', none, '--from', remote, '--yes'], {
      env: { ATS_BACKUP_ENCRYPTION_KEY: '' },
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain(remote);
    expect(noKey.stderr).toContain(`the object is encrypted (key id ${keyId}) and no key was given`);
    expect(noKey.stderr).toContain('--encryption-key-file');
    // (The service lock file beside it stays, as after any refused restore.)
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('none') && !n.endsWith('.serve.lock'))).toEqual([]);

    // Another key, over an existing database: refused, the database untouched, nothing kept aside.
    const other = path.join(dir, 'other-key');
    writeKey(other);
    const before = fs.readFileSync(out);
    const files = (): string =>
      fs
        .readdirSync(dir)
        .filter((n) => !n.endsWith('.serve.lock'))
        .sort()
        .join(' ');
    const entries = files();
    const wrong = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote,
      '--encryption-key-file',
      other,
      '--yes',
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(remote);
    expect(wrong.stderr).toContain(`encrypted with key id ${keyId}, but the key given (${other}) has id`);
    expect(fs.readFileSync(out).equals(before)).toBe(true);
    expect(files()).toEqual(entries); // no copy kept aside, no temp file left
  });
});

describe('a continuous destination whose key file is missing', () => {
  it('stops ats serve at start (exit 2, naming the file); nothing is shipped in clear', async () => {
    dir = tempDir('ats-cont-enc-nokey-');
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n' +
        '[[Database.destination]]\nurl = "remote"\ncontinuous = true\nencryption_key_file = "missing.key"\n\n[Server]\nport = 0\n',
    );
    const run = await runCli(['serve', '--config', config], { killAfterMs: 30_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(path.join(dir, 'missing.key'));
    expect(fs.existsSync(path.join(dir, 'remote'))).toBe(false);
  });
});

describe('EncryptingStore', () => {
  it('round-trips objects of several chunks; a cut or altered object is refused by authentication', async () => {
    dir = tempDir('ats-cont-enc-store-');
    const keyFile = path.join(dir, 'key');
    writeKey(keyFile);
    const key = loadKeyFile(keyFile);
    const store = new EncryptingStore(new FolderStore(path.join(dir, 'remote')), key);
    const primary = new Primary(dir, { store });
    try {
      await primary.shipper.start();
      primary.write(3000, 1000); // ~3 MB in one transaction: a segment of several 1 MiB chunks
      await primary.shipper.sync();
      primary.write(5);
      await primary.shipper.sync();
      const out = path.join(dir, 'out.db');
      await restoreContinuous({ store, database: out, verify: 'quick' });
      expect(idsIn(out)).toEqual(primary.ids());

      const remote = path.join(dir, 'remote');
      const big = objectKeys(remote)
        .filter((k) => k.endsWith('.seg'))
        .map((k) => path.join(remote, k))
        .sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0] as string;
      expect(fs.statSync(big).size).toBeGreaterThan(2 << 20);
      const good = fs.readFileSync(big);
      // The last chunk cut off: the chunk now last was not sealed as the last one.
      const cut = good.subarray(0, good.length - 1000);
      let at = 128;
      let lastStart = at;
      while (at < good.length) {
        lastStart = at;
        at += 4 + good.readUInt32BE(at);
      }
      fs.writeFileSync(big, good.subarray(0, lastStart));
      const out2 = path.join(dir, 'out2.db');
      await expect(restoreContinuous({ store, database: out2, verify: 'quick' })).rejects.toMatchObject({
        code: 'ATS_BACKUP_OBJECT',
      });
      fs.writeFileSync(big, cut);
      await expect(restoreContinuous({ store, database: out2, verify: 'quick' })).rejects.toMatchObject({
        code: 'ATS_BACKUP_OBJECT',
      });
      // A header changed in clear (its last txid): the first chunk fails authentication.
      const altered = Buffer.from(good);
      altered[47] = (altered[47] as number) ^ 1;
      fs.writeFileSync(big, altered);
      await expect(restoreContinuous({ store, database: out2, verify: 'quick' })).rejects.toMatchObject({
        code: 'ATS_BACKUP_OBJECT',
      });
      expect(fs.existsSync(out2)).toBe(false);
    } finally {
      primary.close();
    }
  });
});
