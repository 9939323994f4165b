// The off-site codec runs in a worker thread (object-worker.ts): round trips through a real s3rver
// restore row for row, plain and encrypted; objects of the stream reference implementation
// (object-stream.ts) still restore and the worker's objects still read there; the upload lends its
// frames and takes them back, and frees what the cipher allocates at once; a cancelled upload
// leaves no object and no thread behind; a damaged object fails in the worker with EOBJECT.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackupError,
  type Destination,
  downloadBackup,
  type EncryptionKey,
  type ObjectHeader,
  openDestination,
  uploadBackup,
} from '../../../dist/backup/index.js';
import { decodeObjectInWorker, encodeObjectInWorker } from '../../../dist/backup/object-in-worker.js';
import {
  decodeObject,
  encodeObject,
  type PlainFacts,
  plainFacts,
} from '../../../dist/backup/object-stream.js';
import { countRows, makeRandomDatabase, ROOT, rejection, removeDir, tempDir } from '../../helpers.js';
import { type S3Server, startS3Server } from './s3-server.js';

let server: S3Server;
let dir: string;
let db: string;
let run = 0;

beforeAll(async () => {
  server = await startS3Server();
  dir = tempDir('ats-worker-pipeline-');
  db = path.join(dir, 'src.db');
  // Some 3 MB of zstd output, three frames, so frame order and "last" are tested on real splits
  // (text that compresses well would make a single frame).
  makeRandomDatabase(db, 12_000);
});
afterAll(async () => {
  await server?.stop();
  removeDir(dir);
});

function destination(): Destination {
  return openDestination(`s3://${server.bucket}/worker/run-${++run}`, { env: server.env });
}

function key(): EncryptionKey {
  return Object.freeze({
    key: crypto.randomBytes(32),
    keyId: crypto.randomBytes(8).toString('hex'),
    from: 'test',
  });
}

/** SHA-256 over every row of `t` in id order: equal digests mean equal tables, row for row. */
function rowsDigest(file: string): string {
  const conn = new Database(file, { readonly: true });
  try {
    const hash = crypto.createHash('sha256');
    for (const row of conn.prepare('SELECT id, body FROM t ORDER BY id').iterate() as Iterable<{
      id: number;
      body: string;
    }>)
      hash.update(`${row.id}\t${row.body}\n`);
    return hash.digest('hex');
  } finally {
    conn.close();
  }
}

/** Threads of this process (Linux); elsewhere 0, so the thread checks hold trivially. */
function threads(): number {
  return fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task').length : 0;
}

/** A snapshot object's header for a file with `facts`, encrypted under `k` if given. */
function headerFor(facts: PlainFacts, k: EncryptionKey | undefined): ObjectHeader {
  return {
    format: 'ats-backup',
    version: 1,
    kind: 'snapshot',
    id: '20261207T000000.000Z-worker-test-0000abcd',
    lineage: 'worker-test',
    createdAt: '2026-12-07T00:00:00.000Z',
    source: 'src.db',
    pageSize: facts.pageSize,
    pageCount: facts.pageCount,
    bytes: facts.bytes,
    sha256: facts.sha256,
    position: null,
    compression: 'zstd',
    encryption: k
      ? { algorithm: 'aes-256-gcm', keyId: k.keyId, salt: crypto.randomBytes(16).toString('base64') }
      : null,
  };
}

describe.each([
  { name: 'plain', makeKey: () => undefined },
  { name: 'encrypted', makeKey: key },
])('worker pipeline, $name', ({ makeKey }) => {
  it('uploads and downloads through the worker; the restore equals the source row for row', async () => {
    const d = destination();
    const k = makeKey();
    const up = await uploadBackup({ destination: d, file: db, lineage: 'worker-test', key: k });
    expect(up.name).toBeDefined();
    const out = path.join(dir, `restored-${++run}.db`);
    let progress = 0;
    const down = await downloadBackup({
      destination: d,
      name: up.name ?? '',
      file: out,
      key: k,
      verify: 'full',
      onProgress: (plain) => {
        progress = plain;
      },
    });
    expect(down.header.sha256).toBe(up.plain.sha256);
    expect(progress).toBe(up.plain.bytes);
    expect(countRows(out)).toBe(countRows(db));
    expect(rowsDigest(out)).toBe(rowsDigest(db));
    fs.rmSync(out);
  });

  it('objects of the stream encoder restore through the worker, and the worker objects decode there', async () => {
    const d = destination();
    const k = makeKey();
    // Written by the reference implementation, as objects uploaded before the worker were.
    const handle = await fs.promises.open(db, 'r');
    const facts = await plainFacts(handle);
    const header = headerFor(facts, k);
    const name = `${header.id}.atsb`;
    await d.put(name, encodeObject(handle, header, k));
    await handle.close();
    const out = path.join(dir, `restored-${++run}.db`);
    await downloadBackup({ destination: d, name, file: out, key: k, verify: 'quick' });
    expect(rowsDigest(out)).toBe(rowsDigest(db));
    fs.rmSync(out);
    // And the other way: the worker's object, read by the stream decoder.
    const up = await uploadBackup({ destination: d, file: db, lineage: 'worker-test', key: k });
    const decoded = await decodeObject(await d.open(up.name ?? ''), { where: 'worker object', key: k });
    expect(decoded.sha256).toBe(facts.sha256);
  });

  it('lends its chunks: a frame kept past the next read has gone back to the worker, and the copies are the object', async () => {
    const k = makeKey();
    const handle = await fs.promises.open(db, 'r');
    try {
      const facts = await plainFacts(handle);
      const encoded = encodeObjectInWorker(handle, db, headerFor(facts, k), k, 3);
      const kept: Buffer[] = [];
      const copies: Buffer[] = [];
      for await (const chunk of encoded.body) {
        kept.push(chunk);
        copies.push(Buffer.from(chunk));
      }
      await encoded.exited;
      // A frame's memory was moved back to the worker for reuse once the next chunk was asked for:
      // what the consumer kept of it is detached (empty), so an upload allocates nothing per frame.
      const frames = kept.filter((_, i) => (copies[i]?.length ?? 0) >= 1 << 20);
      expect(frames.length).toBeGreaterThanOrEqual(2);
      for (const frame of frames) expect(frame.length).toBe(0);
      const decoded = await decodeObject(Readable.from(copies), { where: 'lent chunks', key: k });
      expect(decoded.sha256).toBe(facts.sha256);
    } finally {
      await handle.close();
    }
  });
});

describe('the encoder frees what the cipher allocates', () => {
  it('freeNow returns the memory of a buffer at once, with no collection; kept buffers are not freed (control)', () => {
    // In a fresh process, where no other garbage can be collected meanwhile and skew the count.
    const script = `
      import { freeNow } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist/backup/object-codec.js')).href)};
      const grown = (free) => {
        const before = process.memoryUsage().arrayBuffers;
        const kept = []; // referenced to the end: only freeNow can free them, never the collector
        for (let i = 0; i < 48; i++) {
          const b = Buffer.allocUnsafeSlow(1 << 20).fill(i);
          if (free) freeNow(b);
          kept.push(b);
        }
        return { grown: process.memoryUsage().arrayBuffers - before, empty: kept.every((b) => b.length === 0) };
      };
      console.log(JSON.stringify({ freed: grown(true), kept: grown(false) }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { freed, kept } = JSON.parse(out) as Record<'freed' | 'kept', { grown: number; empty: boolean }>;
    expect(freed.empty).toBe(true);
    expect(freed.grown).toBeLessThan(4 << 20);
    expect(kept.empty).toBe(false);
    expect(kept.grown).toBeGreaterThanOrEqual(40 << 20);
  });
});

describe('worker pipeline, failures', () => {
  it('a cancelled upload leaves no object and no worker thread behind', async () => {
    const d = destination();
    // Warm up: the SDK, libuv's thread pool and one worker have all run once before counting.
    await uploadBackup({ destination: d, file: db, lineage: 'worker-test', key: undefined });
    const before = (await d.list()).map((e) => e.name);
    const threadsBefore = threads();
    const abort = new AbortController();
    const err = await rejection(
      uploadBackup({
        destination: d,
        file: db,
        lineage: 'worker-test',
        key: key(),
        signal: abort.signal,
        onProgress: (sent) => {
          if (sent > 0) abort.abort();
        },
      }),
      Error,
    );
    expect(err.message).toMatch(/abort|cancel/i);
    expect(threads()).toBe(threadsBefore);
    expect((await d.list()).map((e) => e.name)).toEqual(before);
  });

  it('a damaged frame fails in the worker with EOBJECT, leaving no file and no thread behind', async () => {
    const d = destination();
    const k = key();
    const up = await uploadBackup({ destination: d, file: db, lineage: 'worker-test', key: k });
    const stored = Buffer.concat(await (await d.open(up.name ?? '')).toArray());
    for (const [label, damagedKey] of [
      ['encrypted', k],
      ['plain', undefined],
    ] as const) {
      let bytes = stored;
      if (!damagedKey) {
        const plain = await uploadBackup({
          destination: d,
          file: db,
          lineage: 'worker-test',
          key: undefined,
        });
        bytes = Buffer.concat(await (await d.open(plain.name ?? '')).toArray());
      }
      const damaged = Buffer.from(bytes);
      const at = Math.floor(damaged.length / 2); // inside a frame's payload
      damaged.writeUInt8((damaged.readUInt8(at) ^ 0x5a) & 0xff, at);
      const name = `20261207T000001.000Z-worker-test-damaged${label === 'plain' ? '1' : '2'}.atsb`;
      await d.put(name, Readable.from([damaged]));
      const threadsBefore = threads();
      const out = path.join(dir, `damaged-${++run}.db`);
      const e = await rejection(
        downloadBackup({ destination: d, name, file: out, key: damagedKey, verify: 'quick' }),
        BackupError,
        'ATS_BACKUP_OBJECT',
      );
      expect(e.message).toMatch(
        label === 'encrypted' ? /fails authentication/ : /does not decompress|SHA-256|bytes its header gives/,
      );
      expect(fs.existsSync(out)).toBe(false);
      expect(threads()).toBe(threadsBefore);
      // Straight at the worker's host side: it settles only once the worker has exited.
      await rejection(
        decodeObjectInWorker(Readable.from([damaged]), { where: name, key: damagedKey }),
        BackupError,
        'ATS_BACKUP_OBJECT',
      );
      expect(threads()).toBe(threadsBefore);
    }
  });
});
