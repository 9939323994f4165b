import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attestation,
  ROOT,
  removeDir,
  type Service,
  startService,
  tempDir,
  writeConfig,
} from '../helpers.js';

const MiB = 1 << 20;
const CAP = 128 * MiB; // the smallest cap am.toml accepts
let dir: string;
let service: Service | undefined;
let holder: ReturnType<typeof spawn> | undefined;
afterEach(async () => {
  holder?.kill('SIGKILL');
  holder = undefined;
  await service?.stop('SIGKILL');
  service = undefined;
  removeDir(dir);
});

/** Another process holding a read transaction: its snapshot pins the WAL. */
async function holdSnapshot(database: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/holder.mjs'), database, 'read'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return child;
}

const post = (url: string, body: unknown): Promise<Response> =>
  fetch(`${url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

interface Health {
  status: string;
  writes: string;
  wal: { bytes: number; maxBytes: number; writesRefused: string | null };
}

describe('ats serve when the WAL cannot be checkpointed', () => {
  it('refuses writes with 503 + Retry-After past max_wal_bytes while another process pins the WAL; reads and /healthz go on; writes resume by themselves once it lets go', async () => {
    dir = tempDir();
    service = await startService(
      writeConfig(
        dir,
        `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\nmax_wal_bytes = ${CAP}\n[Pulse]\nticker_interval_seconds = 0.2\n[Server]\nport = 0\n[ATS]\nmax_per_actor_context = 1000000\n`,
      ),
    );
    const database = path.join(dir, 'data/ats.db');
    expect((await post(service.url, attestation(0))).status).toBe(201);
    holder = await holdSnapshot(database);

    let n = 1;
    let acked = 1;
    let refused: Response | undefined;
    while (refused === undefined && n < 1_000_000) {
      const r = await post(
        service.url,
        Array.from({ length: 100 }, () => attestation(n++, { attributes: { pad: 'w'.repeat(2000) } })),
      );
      if (r.status === 201) acked += 100;
      else refused = r;
    }
    if (refused === undefined) throw new Error('no write was refused');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { error: string }).error).toBe('ATS_STORE_WAL_CAP');
    const wal = fs.statSync(`${database}-wal`).size;
    expect(wal).toBeGreaterThan(CAP);
    expect(wal).toBeLessThan(CAP + 32 * MiB); // refused within a step or two of the cap

    const health = (await (await fetch(`${service.url}/healthz`)).json()) as Health;
    expect(health.status).toBe('degraded');
    expect(health.writes).toBe('paused');
    expect(health.wal.maxBytes).toBe(CAP);
    expect(health.wal.writesRefused).toMatch(/over \[Database\] max_wal_bytes/);
    const [logged] = service.events('wal_backpressure');
    expect(logged?.cause).toMatch(/a reader outside this service .* holds an old snapshot/);
    const read = await fetch(`${service.url}/attestations?limit=2`);
    expect(read.status).toBe(200);
    expect((await post(service.url, attestation(n++))).status).toBe(503); // still paused

    holder.kill('SIGTERM');
    await new Promise((r) => holder!.once('exit', r));
    holder = undefined;
    let resumed: Response | undefined;
    for (let i = 0; i < 400 && resumed === undefined; i++) {
      const r = await post(service.url, attestation(n++));
      if (r.status === 201) resumed = r;
      else {
        expect(r.status).toBe(503);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(resumed?.status).toBe(201);
    acked++;
    expect(service.events('wal_backpressure_end')).toHaveLength(1);
    expect(fs.statSync(`${database}-wal`).size).toBeLessThanOrEqual(CAP);
    const after = (await (await fetch(`${service.url}/healthz`)).json()) as Health;
    expect(after.writes).toBe('ok');
    const stats = (await (await fetch(`${service.url}/stats`)).json()) as { attestations: number };
    expect(stats.attestations).toBe(acked);
  });
});
