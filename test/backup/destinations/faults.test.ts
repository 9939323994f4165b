// Faults between ats and a real S3 server, injected by a proxy: 5xx, throttling, slow answers past
// the request timeout, dropped connections, bodies cut short. Uploads and downloads must get
// through what retries can fix, fail cleanly on what they cannot, never leave a visible
// half-object, never cost an earlier backup; every restore is compared row for row.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BackupError,
  type Destination,
  downloadBackup,
  listRemoteBackups,
  openDestination,
  uploadBackup,
} from '../../../dist/backup/index.js';
import { countRows, makeRandomDatabase, rejection, removeDir, tempDir, waitFor } from '../../helpers.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type S3Server, s3Env, startS3Server } from './s3-server.js';

let server: S3Server;
let proxy: FaultProxy;
let dir: string;
let db: string;
let rows: number;
let run = 0;
let direct: Destination; // straight to the server: what is really there
let faulty: Destination; // through the proxy

const isPart = (m: string, u: string): boolean => m === 'PUT' && u.includes('partNumber=');
const isCreate = (m: string, u: string): boolean => m === 'POST' && /[?&]uploads(=|&|$)/.test(u);
const isGet = (m: string, u: string): boolean => m === 'GET' && u.includes('.atsb');
const isPut = (m: string): boolean => m === 'PUT' || m === 'POST';

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.endpoint);
  dir = tempDir('ats-faults-');
  db = path.join(dir, 'src.db');
  makeRandomDatabase(db, 40_000); // 15 MB that barely compresses: a multipart upload of several parts
  rows = countRows(db);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  removeDir(dir);
});
beforeEach(() => {
  proxy.clear();
  proxy.seen.length = 0;
  const url = `s3://${server.bucket}/faults/run-${++run}`;
  direct = openDestination(url, { env: server.env });
  faulty = openDestination(url, { env: s3Env(proxy.endpoint), s3: { requestTimeoutMs: 1500 } });
});

async function restoredRows(from: Destination, name: string): Promise<number> {
  const file = path.join(dir, `restored-${++run}.db`);
  await downloadBackup({ destination: from, name, file, key: undefined, verify: 'full' });
  try {
    return countRows(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

const actions = (): string[] => proxy.seen.filter((s) => s.action !== 'forward').map((s) => s.action);

describe('uploads through faults', () => {
  it('retries 5xx, throttling, a dropped connection and a slow answer, and the object is complete', async () => {
    proxy.inject(isCreate, { kind: 'status', status: 503, code: 'SlowDown' }, 2);
    proxy.inject(isPart, { kind: 'status', status: 500, code: 'InternalError' }, 2);
    proxy.inject(isPart, { kind: 'drop' }, 1);
    proxy.inject(isPart, { kind: 'delay', ms: 4000 }, 1);
    const up = await uploadBackup({ destination: faulty, file: db, lineage: 'f', key: undefined });
    expect(actions().sort()).toEqual(['delay', 'drop', 'status', 'status', 'status', 'status']);
    expect(proxy.seen.filter((s) => isPart(s.method, s.url)).length).toBeGreaterThan(4); // really multipart
    expect((await direct.stat(up.name ?? ''))?.bytes).toBe(up.storedBytes);
    expect(await restoredRows(direct, up.name ?? '')).toBe(rows);
  });

  it('a server that keeps failing: the upload fails, nothing half-written is visible, the earlier backup survives', async () => {
    const earlier = await uploadBackup({ destination: direct, file: db, lineage: 'f', key: undefined });
    for (const fault of [{ kind: 'status', status: 500, code: 'InternalError' }, { kind: 'drop' }] as const) {
      proxy.clear();
      proxy.seen.length = 0;
      proxy.inject((m, u) => isPart(m, u), fault, 10_000);
      const err = await rejection(
        uploadBackup({ destination: faulty, file: db, lineage: 'f', key: undefined }),
        BackupError,
        'ATS_BACKUP_REMOTE',
      );
      expect(err.message).toMatch(/upload s3:\/\//);
      // The multipart upload was aborted: its stored parts are not left on the server (and billed).
      const aborts = proxy.seen.filter((s) => s.method === 'DELETE' && s.url.includes('uploadId='));
      expect(aborts.length).toBe(1);
    }
    // A deadline: every request hangs past it; the upload gives up and leaves nothing.
    proxy.clear();
    proxy.inject(isPut, { kind: 'delay', ms: 60_000 }, 10_000);
    await rejection(
      uploadBackup({
        destination: faulty,
        file: db,
        lineage: 'f',
        key: undefined,
        signal: AbortSignal.timeout(2000),
      }),
      BackupError,
      'ATS_BACKUP_REMOTE',
    );
    expect((await listRemoteBackups(direct)).map((b) => b.name)).toEqual([earlier.name]);
    expect(await restoredRows(direct, earlier.name ?? '')).toBe(rows);
  });
});

describe('a file that changed since the catalogue recorded it', () => {
  it('fails a multipart upload before its last part: the upload is aborted, never completed, nothing visible', async () => {
    const good = await uploadBackup({ destination: direct, file: db, lineage: 'f', key: undefined });
    proxy.seen.length = 0;
    const known = { ...good.plain, sha256: 'f'.repeat(64) };
    const err = await rejection(
      uploadBackup({ destination: faulty, file: db, lineage: 'f', key: undefined, known }),
      BackupError,
      'ATS_BACKUP_COPY',
    );
    expect(err.message).toMatch(/does not have the SHA-256 its catalogue record gives/);
    expect(proxy.seen.filter((s) => isCreate(s.method, s.url)).length).toBe(1); // a multipart upload began
    const completes = proxy.seen.filter((s) => s.method === 'POST' && s.url.includes('uploadId='));
    expect(completes).toEqual([]);
    expect(proxy.seen.filter((s) => s.method === 'DELETE' && s.url.includes('uploadId=')).length).toBe(1);
    expect((await listRemoteBackups(direct)).map((b) => b.name)).toEqual([good.name]);
  });
});

describe('downloads through faults', () => {
  it('resumes after connections cut mid-body and retries 5xx: the restore is whole', async () => {
    const up = await uploadBackup({ destination: direct, file: db, lineage: 'f', key: undefined });
    proxy.inject(isGet, { kind: 'status', status: 500, code: 'InternalError' }, 1);
    proxy.inject(isGet, { kind: 'cut', afterBytes: 3 << 20 }, 2);
    expect(await restoredRows(faulty, up.name ?? '')).toBe(rows);
    expect(actions()).toEqual(['status', 'cut', 'cut']);
    const ranged = proxy.seen.filter((s) => isGet(s.method, s.url));
    expect(ranged.length).toBe(4);
  });

  it('a server that returns a shortened body with a matching length is caught by the format: refused, no file', async () => {
    const up = await uploadBackup({ destination: direct, file: db, lineage: 'f', key: undefined });
    proxy.inject(isGet, { kind: 'short', bytes: 5 << 20 }, 100);
    const file = path.join(dir, 'short.db');
    const err = await rejection(
      downloadBackup({ destination: faulty, name: up.name ?? '', file, key: undefined, verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_OBJECT',
    );
    expect(err.message).toMatch(/truncated/);
    expect(fs.existsSync(file)).toBe(false);
    expect(await restoredRows(direct, up.name ?? '')).toBe(rows); // the object itself is fine
  });
});

describe('retention during a restore', () => {
  it('never removes the object a running restore reads, and the lease goes when the restore ends', async () => {
    const first = await uploadBackup({ destination: direct, file: db, lineage: 'f', key: undefined });
    proxy.inject(isGet, { kind: 'delay', ms: 3000 }, 1); // the restore's download waits at the server
    const file = path.join(dir, `leased-${++run}.db`);
    const restoring = downloadBackup({
      destination: faulty,
      name: first.name ?? '',
      file,
      key: undefined,
      verify: 'quick',
    });
    await waitFor(
      async () => (await direct.list()).some((e) => e.name.endsWith('.lease')),
      20_000,
      'the lease',
    );
    const next = await uploadBackup({
      destination: direct,
      file: db,
      lineage: 'f',
      key: undefined,
      retention: { keep: 1, keepDays: undefined },
    });
    expect(next.retention?.held).toEqual([first.name]);
    await restoring;
    expect(countRows(file)).toBe(rows);
    expect((await direct.list()).map((e) => e.name)).toEqual([first.name, next.name]); // lease gone
    const after = await uploadBackup({
      destination: direct,
      file: db,
      lineage: 'f',
      key: undefined,
      retention: { keep: 1, keepDays: undefined },
    });
    expect(after.retention?.removed).toEqual([first.name, next.name]);
  });
});
