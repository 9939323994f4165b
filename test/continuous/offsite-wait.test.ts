// A write acknowledged only once it is off-site, through the real `ats serve` with a folder as its
// continuous destination: the position in each write's reply, `?durable=offsite` and
// `GET /offsite/wait`, their bounded failures (timeout, destination outage, shutdown) and bad input.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attestation,
  runCli,
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
  fs.rmSync(dir, { recursive: true, force: true });
});

const POSITION = /^[0-9a-f]{32}\/[1-9][0-9]*$/;

function rows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id, ts, subjects, attributes FROM attestations ORDER BY seq').all();
  } finally {
    db.close();
  }
}

async function serve(syncSeconds: number, continuous = true): Promise<Service> {
  dir = tempDir('ats-offsite-wait-');
  const destination = continuous
    ? `[[Database.destination]]\nurl = "remote"\ncontinuous = true\nsync_interval_seconds = ${syncSeconds}\n\n`
    : '';
  const config = writeConfig(
    dir,
    `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n${destination}[Pulse]\nticker_interval_seconds = 0.2\n\n[Server]\nport = 0\n`,
  );
  service = await startService(config);
  return service;
}

/** Every field any of these replies may have (each test reads the ones its reply has). */
interface Answer {
  readonly ids: string[];
  readonly position: string;
  readonly offsite: boolean;
  readonly uploaded: string;
  readonly error: string;
  readonly message: string;
}

async function post(url: string, body: unknown, query = ''): Promise<{ status: number; json: Answer }> {
  const res = await fetch(`${url}/attestations${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Answer };
}

async function get(url: string): Promise<{ status: number; json: Answer }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Answer };
}

describe('acknowledged only once off-site', () => {
  it('a write acked with durable=offsite is in a restore done right after the ack, row for row', async () => {
    // A long sync interval: without the wait, a restore right after the reply would miss the write.
    const s = await serve(2);
    let last = '';
    for (let i = 0; i < 2; i++) {
      const r = await post(s.url, [attestation(2 * i), attestation(2 * i + 1)], '?durable=offsite');
      expect(r.status).toBe(201);
      expect(r.json.position).toMatch(POSITION);
      last = r.json.position;
      const out = path.join(dir, `restored-${i}.db`);
      const run = await runCli(['restore', '--db', out, '--from', path.join(dir, 'remote'), '--yes']);
      expect(run.code).toBe(0);
      const ids = (rows(out) as { id: string }[]).map((x) => x.id);
      for (const id of r.json.ids) expect(ids).toContain(id);
      expect(ids).toHaveLength(2 * (i + 1));
    }
    // The position names exactly that transaction: restore --position gives the primary row for row.
    const out = path.join(dir, 'at-position.db');
    const run = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      path.join(dir, 'remote'),
      '--position',
      last,
      '--yes',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`to position ${last}`);
    expect(await s.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect(rows(out)).toEqual(rows(path.join(dir, 'data', 'ats.db')));
  });

  it('positions grow with each write; GET /offsite/wait answers once the position is off-site', async () => {
    const s = await serve(0.5);
    const a = await post(s.url, attestation(1));
    const b = await post(s.url, attestation(2));
    expect(a.status).toBe(201);
    const txid = (p: string): bigint => BigInt(p.split('/')[1] as string);
    expect(b.json.position.split('/')[0]).toBe(a.json.position.split('/')[0]);
    expect(txid(b.json.position)).toBe(txid(a.json.position) + 1n);
    const w = await get(`${s.url}/offsite/wait?position=${b.json.position}&timeout_ms=20000`);
    expect(w.status).toBe(200);
    expect(w.json.position).toBe(b.json.position);
    expect(w.json.offsite).toBe(true);
    expect(txid(w.json.uploaded)).toBeGreaterThanOrEqual(txid(b.json.position));
    // An older position is off-site already: answered at once.
    const again = await get(`${s.url}/offsite/wait?position=${a.json.position}&timeout_ms=0`);
    expect(again.status).toBe(200);
  });

  it('not off-site within the timeout: 504 ATS_HTTP_OFFSITE_TIMEOUT before the next upload, the write kept', async () => {
    const s = await serve(30); // no upload for 30 s: the wait can only time out
    const started = Date.now();
    const r = await post(s.url, attestation(1), '?durable=offsite&timeout_ms=300');
    expect(r.status).toBe(504);
    expect(r.json.error).toBe('ATS_HTTP_OFFSITE_TIMEOUT');
    expect(r.json.message).toMatch(
      /position [0-9a-f]{32}\/\d+ is committed here but was not confirmed off-site within 300 ms/,
    );
    expect(Date.now() - started).toBeLessThan(30_000); // answered by the timeout, not by an upload
    const position = /position (\S+) is committed/.exec(r.json.message)?.[1] as string;
    const w = await get(`${s.url}/offsite/wait?position=${position}&timeout_ms=100`);
    expect(w.status).toBe(504);
    expect(await s.stop('SIGTERM')).toBe(0); // the last upload at shutdown ships it
    service = undefined;
    expect(rows(path.join(dir, 'data', 'ats.db'))).toHaveLength(1);
  });

  it('destination outage: 503 ATS_HTTP_OFFSITE_FAILED at the failed upload, not a hang; ok once it is back', async () => {
    const s = await serve(0.5);
    expect((await post(s.url, attestation(0), '?durable=offsite')).status).toBe(201);
    const remote = path.join(dir, 'remote');
    fs.renameSync(remote, `${remote}.away`);
    fs.writeFileSync(remote, 'not a folder'); // every put now fails (ENOTDIR), even as root
    const started = Date.now();
    const r = await post(s.url, attestation(1), '?durable=offsite&timeout_ms=20000');
    expect(r.status).toBe(503);
    expect(r.json.error).toBe('ATS_HTTP_OFFSITE_FAILED');
    expect(r.json.message).toContain('the upload to the continuous destination failed');
    expect(r.json.message).not.toContain(dir); // no paths in a 5xx
    expect(Date.now() - started).toBeLessThan(20_000);
    const position = /position (\S+) is committed/.exec(r.json.message)?.[1] as string;
    expect(position).toMatch(POSITION);
    expect(s.events('offsite_wait_failed').length).toBeGreaterThan(0);
    // /healthz says shipping is failing (the reason, which may name paths, only in the log).
    const health = (await (await fetch(`${s.url}/healthz`)).json()) as {
      status: string;
      continuous: { committed: string; uploaded: string | null; failing: boolean };
    };
    expect(health.status).toBe('degraded');
    expect(health.continuous.failing).toBe(true);
    expect(health.continuous.committed).toBe(position);
    expect(JSON.stringify(health)).not.toContain(dir);
    fs.rmSync(remote);
    fs.renameSync(`${remote}.away`, remote);
    const w = await get(`${s.url}/offsite/wait?position=${position}&timeout_ms=30000`);
    expect(w.status).toBe(200);
    type Health = { status: string; continuous: { uploaded: string; failing: boolean } };
    const health2 = async (): Promise<Health> => (await (await fetch(`${s.url}/healthz`)).json()) as Health;
    await waitFor(async () => !(await health2()).continuous.failing, 10_000, 'the failure to clear');
    const after = await health2();
    expect(after.status).toBe('ok');
    expect(after.continuous.uploaded).toBe(w.json.uploaded);
  });

  it('shutdown answers a waiting client (503) and the last upload still ships the write', async () => {
    const s = await serve(30);
    const pending = post(s.url, attestation(1), '?durable=offsite&timeout_ms=60000');
    await new Promise((r) => setTimeout(r, 300));
    const exit = s.stop('SIGTERM');
    const r = await pending;
    expect(r.status).toBe(503);
    expect(r.json.error).toBe('ATS_HTTP_UNAVAILABLE');
    expect(await exit).toBe(0);
    service = undefined;
    const out = path.join(dir, 'restored.db');
    const run = await runCli(['restore', '--db', out, '--from', path.join(dir, 'remote'), '--yes']);
    expect(run.code).toBe(0);
    expect(rows(out)).toEqual(rows(path.join(dir, 'data', 'ats.db')));
  });

  it('bad input gets 400 naming the parameter (nothing written); unknown positions 404', async () => {
    const s = await serve(0.5);
    const first = await post(s.url, attestation(1));
    const position = first.json.position as string;
    const [lineage, txid] = position.split('/');
    for (const [query, name] of [
      ['position=abc/1', 'position'],
      [`position=${lineage}/0`, 'position'],
      [`position=${lineage}/-1`, 'position'],
      [`position=${position}&timeout_ms=-5`, 'timeout_ms'],
      [`position=${position}&timeout_ms=1.5`, 'timeout_ms'],
      [`position=${position}&timeout_ms=600000`, 'timeout_ms'],
      [`position=${position}&wait=1`, 'wait'],
      ['timeout_ms=5', 'position'],
    ] as const) {
      const r = await get(`${s.url}/offsite/wait?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.json.error, query).toBe('ATS_HTTP_INVALID');
      expect(r.json.message, query).toContain(name);
    }
    for (const [query, name] of [
      ['?durable=offsite&timeout_ms=-1', 'timeout_ms'],
      ['?durable=yes', 'durable'],
      ['?timeout_ms=100', 'timeout_ms'],
    ] as const) {
      const r = await post(s.url, attestation(2), query);
      expect(r.status, query).toBe(400);
      expect(r.json.message, query).toContain(name);
    }
    const other = `${'0'.repeat(32)}/1`;
    const unknown = await get(`${s.url}/offsite/wait?position=${other}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('ATS_HTTP_OFFSITE_UNKNOWN');
    const future = await get(`${s.url}/offsite/wait?position=${lineage}/${BigInt(txid as string) + 1000n}`);
    expect(future.status).toBe(404);
    expect(future.json.message).toContain('not committed yet');
    expect(await s.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect(rows(path.join(dir, 'data', 'ats.db'))).toHaveLength(1);
  });

  it('without a continuous destination: no position in replies, durable=offsite refused before writing', async () => {
    const s = await serve(1, false);
    const r = await post(s.url, attestation(1));
    expect(r.status).toBe(201);
    expect(Object.keys(r.json)).toEqual(['ids']);
    const d = await post(s.url, attestation(2), '?durable=offsite');
    expect(d.status).toBe(404);
    expect(d.json.error).toBe('ATS_HTTP_OFFSITE_UNKNOWN');
    const w = await get(`${s.url}/offsite/wait?position=${'a'.repeat(32)}/1`);
    expect(w.status).toBe(404);
    expect(await s.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect(rows(path.join(dir, 'data', 'ats.db'))).toHaveLength(1);
  });
});
