// ats serve flat out with continuous shipping on: the WAL stays bounded (the shipper's pin would
// keep the log from restarting for ever if the sealed restarts did not happen), and the newest
// position equals the primary row for row.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { attestation, runCli, type Service, startService, tempDir, writeConfig } from '../helpers.js';

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

describe('ats serve with a continuous destination under load', () => {
  it('keeps the WAL within 4x journal_size_limit and ships everything', async () => {
    dir = tempDir('ats-cont-load-');
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n[[Database.destination]]\nurl = "remote"\ncontinuous = true\n\n[Pulse]\nticker_interval_seconds = 0.2\n\n[Server]\nport = 0\n',
    );
    service = await startService(config);
    const url = service.url;
    const wal = path.join(dir, 'data', 'ats.db-wal');
    let walPeak = 0;
    const sampler = setInterval(() => {
      walPeak = Math.max(walPeak, fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0);
    }, 20);
    const statuses = new Map<number, number>();
    let next = 0;
    const until = Date.now() + 10_000;
    const big = 'x'.repeat(2000);
    const loop = async (): Promise<void> => {
      while (Date.now() < until) {
        const batch = Array.from({ length: 100 }, () =>
          attestation(next++, { attributes: { i: next, big } }),
        );
        const res = await fetch(`${url}/attestations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all([loop(), loop()]);
    clearInterval(sampler);
    const restartEvents = service.events('continuous_wal_restart');
    const restarts = restartEvents.length;
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect([...statuses.keys()].filter((s) => s !== 201 && s !== 503)).toEqual([]);
    const written = (statuses.get(201) ?? 0) * 100;
    console.log(
      `continuous under load: ${written} attestations, WAL peak ${(walPeak / 2 ** 20).toFixed(1)} MiB, ${restarts} sealed restarts`,
    );
    expect(written).toBeGreaterThan(5_000);
    if (walPeak > 32 * 2 ** 20) expect(restarts).toBeGreaterThan(0); // past half the limit, the policy restarts
    // Each sealed restart comes once the log is past the restart length (half the limit), not at
    // every step: before the fix the checkpoint job, not told the shipper had restarted the log,
    // ran the next restart 20 ms later (68 restarts of ~1.5 MiB logs in one run, each a synchronous
    // seal and checkpoint on the event loop). Frames of 4 KiB pages; a quarter of the limit, to allow
    // for a restart after a pause (a snapshot) or at the cap.
    for (const e of restartEvents)
      if (e.mode === 'RESTART') expect(Number(e.walFrames) * 4120).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(walPeak).toBeLessThanOrEqual(4 * 64 * 2 ** 20);
    const out = path.join(dir, 'restored.db');
    const run = await runCli(['restore', '--db', out, '--from', path.join(dir, 'remote'), '--yes']);
    expect(run.code).toBe(0);
    expect(rows(out)).toEqual(rows(path.join(dir, 'data', 'ats.db')));
  });
});
