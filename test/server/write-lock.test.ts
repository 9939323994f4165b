import { spawn } from 'node:child_process';
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

/** Another process holding the database's write lock (BEGIN IMMEDIATE, as a sqlite3 shell would). */
async function holdWriteLock(database: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'test/fixtures/holder.mjs'), database, 'immediate'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
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

describe('ats serve while another process holds the write lock', () => {
  it('answers writes 503 + Retry-After (ATS_STORE_BUSY) after about a second, each on its own, while reads and /healthz answer at once; writes resume once the lock is gone', async () => {
    dir = tempDir();
    service = await startService(
      writeConfig(dir, '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n'),
    );
    const database = path.join(dir, 'data/ats.db');
    expect((await post(service.url, attestation(0))).status).toBe(201);
    holder = await holdWriteLock(database);

    const order: string[] = [];
    const started = performance.now();
    const writes = Array.from({ length: 4 }, (_, i) =>
      post(service!.url, attestation(i + 1)).then(async (r) => {
        order.push(`post${i}`);
        return {
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await r.json(),
          at: performance.now() - started,
        };
      }),
    );
    // Asked after the writes: with a busy wait on the event loop these would wait behind all four.
    const health = fetch(`${service.url}/healthz`).then(async (r) => {
      order.push('healthz');
      return r.status;
    });
    const read = fetch(`${service.url}/attestations?limit=5`).then(async (r) => {
      order.push('read');
      return { status: r.status, body: (await r.json()) as { attestations: unknown[] } };
    });
    expect(await health).toBe(200);
    expect((await read).status).toBe(200);
    expect((await read).body.attestations).toHaveLength(1);
    const answers = await Promise.all(writes);
    expect(order.slice(0, 2).sort()).toEqual(['healthz', 'read']);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe('1');
      expect(answer.body).toEqual({
        error: 'ATS_STORE_BUSY',
        message: expect.stringMatching(/locked by another process/),
      });
    }
    // The four waited side by side, not one after another (today: 5, 10, 15, 20 s, then 500).
    // A bound with a wide margin for a busy machine, not a timing: four serial waits would be 4 s.
    expect(Math.max(...answers.map((a) => a.at))).toBeLessThan(3_500);
    expect(service.events('write_refused').length).toBeGreaterThanOrEqual(1);

    holder.kill('SIGTERM');
    await new Promise((r) => holder!.once('exit', r));
    holder = undefined;
    const after = await post(service.url, attestation(9));
    expect(after.status).toBe(201);
    const stats = (await (await fetch(`${service.url}/stats`)).json()) as { attestations: number };
    expect(stats.attestations).toBe(2); // the refused writes wrote nothing
  });
});
