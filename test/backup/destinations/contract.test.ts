// The one contract every destination passes: the local folder, S3 against a real s3rver started
// here, and a real endpoint when ATS_TEST_S3_URL (with the AWS_* variables) names one. Every
// round trip restores the database and compares rows.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  applyRetention,
  BackupError,
  type Destination,
  downloadBackup,
  type EncryptionKey,
  FolderDestination,
  listRemoteBackups,
  loadKeyFile,
  openDestination,
  readRemoteHeader,
  resolveRemoteBackup,
  takeLease,
  uploadBackup,
} from '../../../dist/backup/index.js';
import { partBytesFor } from '../../../dist/backup/s3-multipart.js';
import { countRows, makeDatabase, rejection, removeDir, tempDir } from '../../helpers.js';
import { type S3Server, startS3Server } from './s3-server.js';

interface Target {
  readonly name: string;
  make(): Destination;
  /** The same place listed in pages of two keys (S3's ContinuationToken), where paging exists. */
  paged?(destination: Destination): Destination;
}

let server: S3Server;
let dir: string;
let db: string;
let rows: number;
let run = 0;

const targets: Target[] = [
  { name: 'folder', make: () => new FolderDestination(path.join(dir, `remote-${++run}`)) },
  {
    name: 's3rver',
    make: () => openDestination(`s3://${server.bucket}/contract/run-${++run}`, { env: server.env }),
    paged: (d) => openDestination(d.info.url, { env: server.env, s3: { listPageKeys: 2 } }),
  },
];
if (process.env.ATS_TEST_S3_URL) {
  const base = process.env.ATS_TEST_S3_URL.replace(/\/+$/, '');
  const stamp = `${Date.now()}-${crypto.randomBytes(3).toString('hex')}`;
  targets.push({
    name: `env ${base}`,
    make: () => openDestination(`${base}/ats-contract-${stamp}-${++run}`),
  });
}

beforeAll(async () => {
  server = await startS3Server();
  dir = tempDir('ats-contract-');
  db = path.join(dir, 'src.db');
  makeDatabase(db, 3);
  rows = countRows(db);
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

function bytesOf(stream: Readable): Promise<Buffer> {
  return (async () => {
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(Buffer.from(chunk));
    return Buffer.concat(parts);
  })();
}

/** A stream of `total` random bytes that fails with an error after `failAt` bytes, if given. */
function randomBody(total: number, failAt?: number): { body: Readable; bytes: Buffer } {
  const bytes = crypto.randomBytes(total);
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let at = 0; at < total; at += 1 << 20) {
      if (failAt !== undefined && at >= failAt) throw new Error('source failed mid-upload');
      yield bytes.subarray(at, Math.min(total, at + (1 << 20)));
    }
  }
  return { body: Readable.from(chunks()), bytes };
}

function key(): EncryptionKey {
  const file = path.join(dir, `key-${++run}`);
  fs.writeFileSync(file, crypto.randomBytes(32).toString('hex'));
  return loadKeyFile(file);
}

async function restoreRows(
  destination: Destination,
  name: string,
  k: EncryptionKey | undefined,
): Promise<number> {
  const file = path.join(dir, `restored-${++run}.db`);
  await downloadBackup({ destination, name, file, key: k, verify: 'full' });
  try {
    return countRows(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** `count` backups of the test database to `destination`, a day apart from 2026-01-01: their names. */
async function uploadDaily(destination: Destination, lineage: string, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const up = await uploadBackup({
      destination,
      file: db,
      lineage,
      key: undefined,
      createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
    });
    names.push(up.name ?? '');
  }
  return names;
}

describe('S3 part size', () => {
  it('is the configured size (at least the 5 MiB S3 requires), or whole MiB enough to keep a large object under 10,000 parts', () => {
    expect(partBytesFor(8 << 20, 1e9)).toBe(8 << 20);
    expect(partBytesFor(1 << 20, undefined)).toBe(5 << 20);
    const huge = 200 * 2 ** 30; // 200 GiB: 8 MiB parts would need 25,600
    const part = partBytesFor(8 << 20, huge);
    expect(part % (1 << 20)).toBe(0);
    expect(Math.ceil(huge / part)).toBeLessThanOrEqual(10_000);
  });
});

describe.each(targets)('destination contract: $name', (target) => {
  let destination: Destination;
  beforeEach(() => {
    destination = target.make();
  });

  it('lists nothing at a new place, then stores, lists, reads (whole and ranged), stats and removes', async () => {
    expect(await destination.list()).toEqual([]);
    const { body, bytes } = randomBody(300_000);
    expect(await destination.put('b.bin', body)).toEqual({ name: 'b.bin', bytes: 300_000 });
    await destination.put('a.bin', Readable.from([Buffer.from('hello')]));
    expect((await destination.list()).map((e) => e.name)).toEqual(['a.bin', 'b.bin']);
    expect((await bytesOf(await destination.open('b.bin'))).equals(bytes)).toBe(true);
    expect(
      (await bytesOf(await destination.open('b.bin', { start: 1000, end: 1010 }))).equals(
        bytes.subarray(1000, 1010),
      ),
    ).toBe(true);
    expect(await destination.stat('b.bin')).toEqual({ name: 'b.bin', bytes: 300_000 });
    await destination.remove(['b.bin', 'a.bin']);
    await destination.remove(['b.bin']); // already gone: a retried removal succeeds
    expect(await destination.stat('b.bin')).toBeUndefined();
    expect(await destination.list()).toEqual([]);
    await rejection(destination.open('b.bin').then(bytesOf), BackupError, 'ATS_BACKUP_REMOTE');
  });

  it('lists by prefix at any depth (paged), while list() shows only the top level; nested objects read, stat and remove', async () => {
    const nested = [
      'lineages/0001-a/segments/01-02.seg',
      'lineages/0001-a/snapshots/01.snap',
      'lineages/0002-b/segments/03-03.seg',
      'lineages/0002-b/segments/04-09.seg',
      'lineages/0002-b/snapshots/03.snap',
    ];
    for (const name of [...nested].reverse())
      expect(await destination.put(name, Readable.from([Buffer.from(name)]))).toEqual({
        name,
        bytes: name.length,
      });
    await destination.put('lineagesX.bin', Readable.from([Buffer.from('top')]));
    await destination.put('top.bin', Readable.from([Buffer.from('top')]));
    expect((await destination.list()).map((e) => e.name)).toEqual(['lineagesX.bin', 'top.bin']);
    const paged = target.paged?.(destination) ?? destination;
    expect((await paged.listPrefix('lineages/')).map((e) => e.name)).toEqual(nested);
    expect(await paged.listPrefix('lineages/0002-b/segments/')).toEqual([
      { name: 'lineages/0002-b/segments/03-03.seg', bytes: nested[2]?.length },
      { name: 'lineages/0002-b/segments/04-09.seg', bytes: nested[3]?.length },
    ]);
    expect((await paged.listPrefix('lineages/0001')).map((e) => e.name)).toEqual(nested.slice(0, 2));
    expect((await paged.listPrefix('')).map((e) => e.name)).toEqual([...nested, 'lineagesX.bin', 'top.bin']);
    expect(await paged.listPrefix('nothing/here/')).toEqual([]);
    const name = nested[4] as string;
    expect((await bytesOf(await destination.open(name, { start: 9, end: 15 }))).toString()).toBe(
      name.slice(9, 15),
    );
    expect(await destination.stat(name)).toEqual({ name, bytes: name.length });
    await destination.remove(nested.slice(0, 3));
    await destination.remove(nested.slice(0, 3)); // already gone: a retried removal succeeds
    expect((await destination.listPrefix('lineages/')).map((e) => e.name)).toEqual(nested.slice(3));
    for (const bad of ['../x', 'a//b', 'lineages/.hidden', 'a/', '/a', 'a/./b'])
      await rejection(
        destination.put(bad, Readable.from([Buffer.from('x')])),
        BackupError,
        'ATS_BACKUP_INVALID',
      );
  });

  it('a put copies or writes each lent chunk before it asks for the next (a multipart one too)', async () => {
    // The body reuses one buffer, scribbling over each chunk once the next is asked for, as a
    // backup upload's worker does with its frames: a put that kept a chunk would store the scribble.
    const bytes = crypto.randomBytes(12 << 20);
    async function* lent(): AsyncGenerator<Buffer> {
      const buffer = Buffer.alloc(256 << 10);
      for (let at = 0; at < bytes.length; at += buffer.length) {
        const n = bytes.copy(buffer, 0, at, at + buffer.length);
        yield buffer.subarray(0, n);
        buffer.fill(0xee);
      }
    }
    expect(await destination.put('lent.bin', lent())).toEqual({ name: 'lent.bin', bytes: bytes.length });
    expect((await bytesOf(await destination.open('lent.bin'))).equals(bytes)).toBe(true);
  });

  it('an interrupted put (small, and multipart) leaves no object and keeps the ones before it', async () => {
    const kept = randomBody(100_000);
    await destination.put('kept.bin', kept.body);
    await rejection(
      destination.put('small.bin', randomBody(3 << 20, 2 << 20).body),
      BackupError,
      'ATS_BACKUP_REMOTE',
    );
    await rejection(
      destination.put('big.bin', randomBody(20 << 20, 18 << 20).body),
      BackupError,
      'ATS_BACKUP_REMOTE',
    );
    expect((await destination.list()).map((e) => e.name)).toEqual(['kept.bin']);
    expect((await bytesOf(await destination.open('kept.bin'))).equals(kept.bytes)).toBe(true);
  });

  it('a backup goes up compressed and comes back identical, row for row; listing order is time order', async () => {
    const first = await uploadBackup({
      destination,
      file: db,
      lineage: 'lin1',
      key: undefined,
      createdAt: new Date('2026-01-02T03:04:05.006Z'),
    });
    const second = await uploadBackup({ destination, file: db, lineage: 'lin1', key: undefined });
    expect(first.storedBytes).toBeLessThan(first.plain.bytes / 2);
    const listed = await listRemoteBackups(destination);
    expect(listed.map((b) => b.name)).toEqual([first.name, second.name]);
    expect(listed[0]?.createdAt).toBe('2026-01-02T03:04:05.006Z');
    expect((await resolveRemoteBackup(destination, undefined)).name).toBe(second.name);
    const header = await readRemoteHeader(destination, first.name ?? '');
    expect(header).toMatchObject({
      lineage: 'lin1',
      bytes: fs.statSync(db).size,
      sha256: first.plain.sha256,
      encryption: null,
    });
    expect(header.pageCount * header.pageSize).toBe(fs.statSync(db).size);
    expect(await restoreRows(destination, first.name ?? '', undefined)).toBe(rows);
  });

  it('facts from the catalogue are checked on the way: a wrong checksum uploads nothing', async () => {
    const good = await uploadBackup({ destination, file: db, lineage: 'known', key: undefined });
    const known = { ...good.plain, sha256: 'f'.repeat(64) };
    const err = await rejection(
      uploadBackup({ destination, file: db, lineage: 'known', key: undefined, known }),
      BackupError,
    );
    expect(err.message).toMatch(/does not have the SHA-256 its catalogue record gives/);
    expect((await listRemoteBackups(destination)).map((b) => b.name)).toEqual([good.name]);
    const right = await uploadBackup({
      destination,
      file: db,
      lineage: 'known',
      key: undefined,
      known: good.plain,
    });
    expect(await restoreRows(destination, right.name ?? '', undefined)).toBe(rows);
  });

  it('an encrypted backup restores only with its key; the stored bytes hold no plaintext', async () => {
    const k = key();
    const up = await uploadBackup({ destination, file: db, lineage: 'enc', key: k });
    const stored = await bytesOf(await destination.open(up.name ?? ''));
    expect(stored.includes(Buffer.from('seed 1 xxxxxxxx'))).toBe(false);
    expect(await restoreRows(destination, up.name ?? '', k)).toBe(rows);
    const file = path.join(dir, `nokey-${run}.db`);
    const missing = await rejection(
      downloadBackup({ destination, name: up.name ?? '', file, key: undefined, verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_KEY',
    );
    expect(missing.message).toContain(k.keyId);
    await rejection(
      downloadBackup({ destination, name: up.name ?? '', file, key: key(), verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_KEY',
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses a damaged, truncated, empty or foreign object, leaving no file behind', async () => {
    const k = key();
    for (const encrypted of [false, true]) {
      const up = await uploadBackup({
        destination,
        file: db,
        lineage: 'dmg',
        key: encrypted ? k : undefined,
      });
      const good = await bytesOf(await destination.open(up.name ?? ''));
      const flipped = Buffer.from(good);
      const middle = Math.floor(good.length / 2);
      flipped.writeUInt8(flipped.readUInt8(middle) ^ 0x40, middle);
      const cases: [string, Buffer][] = [
        ['a flipped byte', flipped],
        ['cut at half', good.subarray(0, Math.floor(good.length / 2))],
        ['missing its trailer', good.subarray(0, good.length - 48)],
        ['empty', Buffer.alloc(0)],
        ['not ats', Buffer.from('SQLite format 3\0 and then some')],
      ];
      for (const [what, bytes] of cases) {
        const name = `20300101T000000000Z-dmg-${crypto.randomBytes(4).toString('hex')}.atsb`;
        await destination.put(name, Readable.from([bytes]));
        const file = path.join(dir, `damaged-${++run}.db`);
        const err = await rejection(
          downloadBackup({ destination, name, file, key: k, verify: 'quick' }),
          BackupError,
        );
        expect(
          ['ATS_BACKUP_OBJECT', 'ATS_BACKUP_KEY'],
          `${what} (encrypted ${encrypted}): ${err.message}`,
        ).toContain(err.code);
        expect(fs.existsSync(file), what).toBe(false);
      }
    }
  });

  it('a lease taken while retention runs, after its listing, still keeps what it holds', async () => {
    const names = await uploadDaily(destination, 'race', 3);
    // The destination as retention sees it, with a restore taking its lease on the oldest backup
    // right after retention's listing: the interleaving that used to lose that backup.
    let release: (() => Promise<void>) | undefined;
    const racing: Destination = {
      info: destination.info,
      list: async (signal) => {
        const entries = await destination.list(signal);
        release ??= await takeLease(destination, [names[0] ?? '']);
        return entries;
      },
      listPrefix: (prefix, signal) => destination.listPrefix(prefix, signal),
      put: (name, body, options) => destination.put(name, body, options),
      open: (name, range, signal) => destination.open(name, range, signal),
      stat: (name, signal) => destination.stat(name, signal),
      remove: (names, signal) => destination.remove(names, signal),
    };
    const outcome = await applyRetention(racing, { keep: 1, keepDays: undefined }, names[2] ?? '');
    expect(outcome.held).toEqual([names[0]]);
    expect(outcome.removed).toEqual([names[1]]);
    expect(await restoreRows(destination, names[0] ?? '', undefined)).toBe(rows);
    await release?.();
  });

  it('a restore whose backup was removed before its lease took hold says so, and leaves no file and no lease', async () => {
    const up = await uploadBackup({ destination, file: db, lineage: 'gone', key: undefined });
    await destination.remove([up.name ?? '']); // as a retention pass that listed just before the lease
    const file = path.join(dir, `restored-${++run}.db`);
    const err = await rejection(
      downloadBackup({ destination, name: up.name ?? '', file, key: undefined, verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_SOURCE',
    );
    expect(err.message).toMatch(/no longer there \(retention removed it/);
    expect(fs.existsSync(file)).toBe(false);
    expect((await destination.list()).map((e) => e.name)).toEqual([]);
  });

  it('retention keeps the newest N (and always the newest), and never what a live restore lease holds', async () => {
    const names = await uploadDaily(destination, 'ret', 4);
    const last = await uploadBackup({
      destination,
      file: db,
      lineage: 'ret',
      key: undefined,
      retention: { keep: 2, keepDays: undefined },
    });
    expect(last.retention?.removed).toEqual(names.slice(0, 3));
    expect((await listRemoteBackups(destination)).map((b) => b.name)).toEqual([names[3], last.name]);
    const release = await takeLease(destination, [names[3] ?? '']);
    const again = await uploadBackup({
      destination,
      file: db,
      lineage: 'ret',
      key: undefined,
      retention: { keep: 1, keepDays: undefined },
    });
    expect(again.retention?.removed).toEqual([last.name]);
    expect(again.retention?.held).toEqual([names[3]]);
    expect(await restoreRows(destination, names[3] ?? '', undefined)).toBe(rows);
    await release();
    const after = await uploadBackup({
      destination,
      file: db,
      lineage: 'ret',
      key: undefined,
      retention: { keep: 1, keepDays: undefined },
    });
    expect(after.retention?.removed).toEqual([names[3], again.name]);
    expect((await destination.list()).map((e) => e.name)).toEqual([after.name]);
    expect(await restoreRows(destination, after.name ?? '', undefined)).toBe(rows);
  });

  it('keep_days keeps what is young enough, and the newest even when it is old', async () => {
    const old = await uploadBackup({
      destination,
      file: db,
      lineage: 'age',
      key: undefined,
      createdAt: new Date(Date.now() - 10 * 86_400_000),
    });
    const older = await uploadBackup({
      destination,
      file: db,
      lineage: 'age',
      key: undefined,
      createdAt: new Date(Date.now() - 20 * 86_400_000),
    });
    // Names sort by time: `older` comes first although it was uploaded second.
    expect((await listRemoteBackups(destination)).map((b) => b.name)).toEqual([older.name, old.name]);
    const outcome = await applyRetention(destination, { keep: undefined, keepDays: 5 }, old.name ?? '');
    expect(outcome).toMatchObject({ removed: [older.name], kept: [old.name] });
    const young = await uploadBackup({
      destination,
      file: db,
      lineage: 'age',
      key: undefined,
      retention: { keep: undefined, keepDays: 5 },
    });
    expect(young.retention?.removed).toEqual([old.name]);
    expect(await restoreRows(destination, young.name ?? '', undefined)).toBe(rows);
  });
});
