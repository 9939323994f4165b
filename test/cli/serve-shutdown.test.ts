import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attestation,
  removeDir,
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
  removeDir(dir);
});

const config = (): string =>
  writeConfig(dir, '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n');

async function postMany(url: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const r = await fetch(`${url}/attestations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 50 }, (_, j) => attestation(i + j))),
    });
    expect(r.status).toBe(201);
    ids.push(...((await r.json()) as { ids: string[] }).ids);
  }
  return ids;
}

describe('ats serve start-up and shutdown', () => {
  it('a SIGTERM right after the listening line stops it gracefully (exit 0), and so does a second SIGTERM during the shutdown', async () => {
    // Before the fix the signal handler was installed after that line: 4 of 6 such services died of
    // the signal (exit by SIGTERM, no final checkpoint, the lock file left).
    dir = tempDir();
    for (let i = 0; i < 5; i++) {
      service = await startService(config());
      const twice = i % 2 === 1;
      const stopped = service.stop('SIGTERM');
      if (twice) service.child.kill('SIGTERM');
      expect(await stopped).toBe(0);
      expect(service.events('stopped')).toHaveLength(1);
      service = undefined;
    }
  });

  it('logs what the start takes; on SIGTERM its final checkpoint copies the WAL and the database is closed cleanly', async () => {
    dir = tempDir();
    service = await startService(config());
    expect(service.events('startup_check')).toHaveLength(1);
    expect(service.events('store_open')).toHaveLength(1);
    const ids = await postMany(service.url, 500);
    expect(await service.stop('SIGTERM')).toBe(0);
    expect(service.events('shutdown_wal_left')).toEqual([]);
    service = undefined;
    // A clean close removes the WAL: every frame was in the database.
    expect(fs.existsSync(path.join(dir, 'data/ats.db-wal'))).toBe(false);
    const db = new Database(path.join(dir, 'data/ats.db'), { readonly: true });
    expect(Number(db.prepare('SELECT count(*) FROM attestations').pluck().get())).toBe(ids.length);
    db.close();
  });

  it('gives the final checkpoint a deadline: a stuck one is left behind, the service exits 0, and the next start has every row', async () => {
    dir = tempDir();
    const marker = path.join(dir, 'paused');
    service = await startService(config(), {
      env: { ATS_FAULT_POINT: 'final-checkpoint:pause', ATS_FAULT_MARKER: marker },
    });
    const ids = await postMany(service.url, 500);
    const stopping = service.stop('SIGTERM');
    await waitFor(() => fs.existsSync(marker), 20_000, 'the final checkpoint to start');
    const code = await stopping; // exits while the checkpoint is still paused
    expect(code).toBe(0);
    expect(fs.existsSync(marker)).toBe(true);
    expect(service.events('shutdown_wal_left')).toHaveLength(1);
    expect(service.events('stopped')).toHaveLength(1);
    service = undefined;
    fs.rmSync(marker);

    service = await startService(config());
    const stats = (await (await fetch(`${service.url}/stats`)).json()) as { attestations: number };
    expect(stats.attestations).toBe(ids.length);
  });
});
