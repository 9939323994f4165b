import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  attestation,
  integrity,
  removeDir,
  type Service,
  startService,
  tempDir,
  writeConfig,
} from '../helpers.js';

// A real full disk: a small tmpfs. Mounting needs root (CAP_SYS_ADMIN); elsewhere the test is
// skipped and says why.
const MiB = 1 << 20;
const dir = tempDir('ats-disk-full-');
const disks = ['disk', 'disk2'].map((name) => path.join(dir, name));
let cannotMount: string | undefined;
for (const disk of disks) {
  fs.mkdirSync(disk);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk], { encoding: 'utf8' });
  if (mounted.status !== 0)
    cannotMount ??= `cannot mount a tmpfs here: ${(mounted.stderr || mounted.error?.message || '').trim()}`;
}
const [disk = '', disk2 = ''] = disks;
if (cannotMount) console.warn(`disk-full test skipped: ${cannotMount}`);

let service: Service | undefined;
let pin: Database.Database | undefined;
afterAll(async () => {
  pin?.close(); // an open file on the tmpfs would keep it from being unmounted
  await service?.stop('SIGKILL');
  // -l: a file still open (a process that failed to die) must not leave the mount behind.
  for (const d of disks) spawnSync('umount', ['-l', d]);
  removeDir(dir);
});

const post = (url: string, body: unknown): Promise<Response> =>
  fetch(`${url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const batch = (from: number, n: number): object[] =>
  Array.from({ length: n }, (_, i) => attestation(from + i, { attributes: { pad: 'f'.repeat(1500) } }));

describe.skipIf(cannotMount !== undefined)('ats serve on a disk that fills up (64 MiB tmpfs)', () => {
  it('pauses writes (507) before a WAL that cannot be checkpointed fills the disk, and recovers by itself once the reader pinning it lets go: nobody has to free space', async () => {
    const config = writeConfig(
      disk2,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Pulse]\nticker_interval_seconds = 0.2\n[Server]\nport = 0\n[ATS]\nmax_per_actor_context = 1000000\n',
    );
    service = await startService(config);
    const database = path.join(disk2, 'data/ats.db');
    expect((await post(service.url, batch(0, 1))).status).toBe(201);
    pin = new Database(database, { readonly: true });
    pin.exec('BEGIN');
    pin.prepare('SELECT count(*) FROM attestations').get(); // an old snapshot: nothing can be checkpointed
    const acked: string[] = [];
    let n = 1;
    let refused: Response | undefined;
    while (refused === undefined && n < 200_000) {
      const r = await post(service.url, batch(n, 50));
      n += 50;
      if (r.status === 201) acked.push(...((await r.json()) as { ids: string[] }).ids);
      else refused = r;
    }
    expect(refused?.status).toBe(507);
    expect(service.events('wal_backpressure')[0]?.kind).toBe('disk');
    pin.exec('COMMIT');
    pin.close();
    pin = undefined;
    let resumed = false;
    for (let i = 0; i < 300 && !resumed; i++) {
      const r = await post(service.url, batch(5_000_000 + i * 50, 50));
      if (r.status === 201) {
        resumed = true;
        acked.push(...((await r.json()) as { ids: string[] }).ids);
      } else {
        expect(r.status).toBe(507);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    expect(resumed).toBe(true);
    expect(service.events('wal_backpressure_end')).toHaveLength(1);
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    const db = new Database(database, { readonly: true, fileMustExist: true });
    expect(Number(db.prepare('SELECT count(*) FROM attestations').pluck().get())).toBe(acked.length + 1);
    db.close();
  });

  it('answers 507 ATS_STORE_FULL (never 500) once the disk is full, reads go on, and writes succeed again without a restart once space is freed; no acknowledged row is lost', async () => {
    const config = writeConfig(
      disk,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Pulse]\nticker_interval_seconds = 0.2\n[Server]\nport = 0\n[ATS]\nmax_per_actor_context = 1000000\n',
    );
    service = await startService(config);
    const database = path.join(disk, 'data/ats.db');
    // Leave about 24 MiB free: a filler file takes the rest, as another program's data would.
    const filler = path.join(disk, 'filler');
    const free = (): number => {
      const s = fs.statfsSync(disk);
      return s.bavail * s.bsize;
    };
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 24 * MiB)));

    const acked: string[] = [];
    const statuses = new Map<number, number>();
    let n = 0;
    let fullBody: { error?: string; message?: string } = {};
    // Until the disk is really full: 507s may first come and go (the WAL over the free space is
    // truncated and writes resume), then they stay. Stop after 10 in a row.
    let inRow = 0;
    while (inRow < 10 && n < 400_000) {
      const r = await post(service.url, batch(n, 50));
      n += 50;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 201) {
        acked.push(...((await r.json()) as { ids: string[] }).ids);
        inRow = 0;
      } else {
        inRow++;
        fullBody = (await r.json()) as typeof fullBody;
        expect(r.status, JSON.stringify(fullBody)).toBe(507);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(inRow).toBe(10);
    expect(fullBody.error).toBe('ATS_STORE_FULL');
    expect(fullBody.message).toMatch(/disk is full/);
    expect(acked.length).toBeGreaterThan(1000);
    // Still full: reads and /healthz answer.
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const read = await fetch(`${service.url}/attestations?limit=3`);
    expect(read.status).toBe(200);

    fs.rmSync(filler);
    const freedAt = performance.now();
    let recovered: Response | undefined;
    let tries = 0;
    const later: string[] = [];
    while (recovered === undefined && tries++ < 300) {
      const r = await post(service.url, batch(1_000_000 + tries * 50, 50));
      if (r.status === 201) {
        recovered = r;
        later.push(...((await r.json()) as { ids: string[] }).ids);
      } else {
        expect(r.status).toBe(507);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const recoveryMs = performance.now() - freedAt;
    if (process.env.ATS_TEST_FIGURES)
      console.log(JSON.stringify({ recoveryMs, acked: acked.length, statuses: [...statuses] }));
    expect(recovered?.status).toBe(201);
    expect(statuses.get(500)).toBeUndefined();
    // Writes go on being accepted, and the WAL is checkpointed again.
    for (let i = 0; i < 20; i++) {
      const r = await post(service.url, batch(2_000_000 + i * 50, 50));
      expect(r.status).toBe(201);
      later.push(...((await r.json()) as { ids: string[] }).ids);
    }

    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    const db = new Database(database, { readonly: true, fileMustExist: true });
    const has = db.prepare('SELECT 1 FROM attestations WHERE id = ?').pluck();
    expect([...acked, ...later].filter((id) => has.get(id) === undefined)).toEqual([]);
    expect(Number(db.prepare('SELECT count(*) FROM attestations').pluck().get())).toBe(
      acked.length + later.length,
    );
    db.close();
    expect(integrity(database)).toBe('ok');
  });
});
