// Continuous shipping to S3 through the real service: `ats serve` ships to a real s3rver (behind a
// forwarding proxy that logs every request), is SIGKILLed mid-writes, restarts and resumes; then
// `ats backups --from s3://...` shows the range and `ats restore --from s3://... --at/--position`
// restores, each compared with the log of acknowledged writes and, at the newest, row for row
// with the primary. Idle, the proxy sees no request at all (no LIST in steady state).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEncryptedHeader, openDestination } from '../../dist/backup/index.js';
import { type FaultProxy, startFaultProxy } from '../backup/destinations/fault-proxy.js';
import { type S3Server, s3Env, startS3Server } from '../backup/destinations/s3-server.js';
import {
  attestation,
  runCli,
  type Service,
  startService,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers.js';

interface Write {
  readonly i: number;
  readonly start: number;
  ack?: number;
}

let server: S3Server;
let proxy: FaultProxy;
let dir: string;
let service: Service | undefined;

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.endpoint);
  dir = tempDir('ats-cont-s3-');
});
afterAll(async () => {
  await service?.stop('SIGKILL');
  await proxy?.close();
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function valuesIn(file: string): Set<number> {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT attributes FROM attestations').all() as { attributes: string }[];
    return new Set(rows.map((r) => (JSON.parse(r.attributes) as { i: number }).i));
  } finally {
    db.close();
  }
}

function allRows(file: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM attestations ORDER BY seq').all();
  } finally {
    db.close();
  }
}

/** Writes one attestation at a time for `ms`, logging when each began and when it was acknowledged. */
async function writeFor(url: string, ms: number, writes: Write[]): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const w: Write = { i: writes.length, start: Date.now() };
    writes.push(w);
    try {
      const res = await fetch(`${url}/attestations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([attestation(w.i)]),
      });
      if (res.status === 201) w.ack = Date.now();
    } catch {
      return; // the service was killed: this write's outcome is unknown
    }
  }
}

/** Waits until the proxy has seen no request for `quietMs` (the shipper caught up). */
async function quiet(quietMs: number): Promise<void> {
  let count = proxy.seen.length;
  let since = Date.now();
  await waitFor(
    () => {
      if (proxy.seen.length !== count) {
        count = proxy.seen.length;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    30_000,
    'the shipper to go quiet',
  );
}

describe('continuous shipping to S3 through ats serve', () => {
  it('ships over SIGKILLs, lists the range, restores newest, by time and by position; idle sends no request', async () => {
    const url = `s3://${server.bucket}/cont/prod`;
    const env = s3Env(proxy.endpoint);
    const config = writeConfig(
      dir,
      `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n[[Database.destination]]\nurl = "${url}"\ncontinuous = true\nsync_interval_seconds = 0.2\nsnapshot_interval_seconds = 0\n\n[Pulse]\nticker_interval_seconds = 0.1\n\n[Server]\nport = 0\n`,
    );
    const writes: Write[] = [];

    // Round 1: writes, then SIGKILL in the middle of them.
    service = await startService(config, { env });
    const first = writeFor(service.url, 1500, writes);
    await new Promise((r) => setTimeout(r, 1200));
    await service.stop('SIGKILL');
    await first;
    service = undefined;

    // Round 2: the restart resumes the lineage from S3 and ships the rest, then idles.
    service = await startService(config, { env });
    expect(service.events('continuous_resume').length).toBe(1);
    await writeFor(service.url, 800, writes);
    const mid = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await writeFor(service.url, 800, writes);
    await quiet(1000);
    const before = proxy.seen.length;
    await new Promise((r) => setTimeout(r, 3000)); // 15 sync intervals, ticks, checkpoint passes
    expect(proxy.seen.slice(before)).toEqual([]);
    await service.stop('SIGKILL');
    service = undefined;

    const acked = writes.filter((w) => w.ack !== undefined);
    expect(acked.length).toBeGreaterThan(20);
    const listed = await runCli(['backups', '--from', url, '--json'], { env });
    expect(listed.code).toBe(0);
    const { lineages } = JSON.parse(listed.stdout) as {
      lineages: {
        lineage: string;
        snapshots: unknown[];
        continuous?: { fromTxid: string; toTxid: string };
        restorable: { from: string; to: string; newestPosition: string };
        gaps: string[];
      }[];
    };
    expect(lineages.length).toBe(1);
    const lineage = lineages[0] as (typeof lineages)[number];
    expect(lineage.snapshots.length).toBe(1);
    expect(lineage.gaps).toEqual([]);
    expect(lineage.continuous?.fromTxid).toBe('2');
    expect(Date.parse(lineage.restorable.to)).toBeGreaterThanOrEqual((acked.at(-1)?.start ?? 0) - 1);
    const text = await runCli(['backups', '--from', url], { env });
    expect(text.stdout).toContain(`lineage ${lineage.lineage}`);
    expect(text.stdout).toMatch(/continuous {2}txid 2\.\.\d+/);
    expect(text.stdout).toContain('restorable');

    // The newest: every acknowledged write, and the primary row for row (the checksum proven too).
    const newest = path.join(dir, 'newest.db');
    const cli = await runCli(['restore', '--db', newest, '--from', url, '--yes'], { env });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/checksum [0-9a-f]{16} equals the primary's/);
    expect(allRows(newest)).toEqual(allRows(path.join(dir, 'data', 'ats.db')));
    const present = valuesIn(newest);
    expect(acked.filter((w) => !present.has(w.i))).toEqual([]);

    // A moment in the middle: every write acknowledged before it, none begun after it.
    const atDb = path.join(dir, 'at.db');
    const at = await runCli(
      ['restore', '--db', atDb, '--from', url, '--at', new Date(mid).toISOString(), '--yes'],
      { env },
    );
    expect(at.code).toBe(0);
    const atValues = valuesIn(atDb);
    expect(acked.filter((w) => (w.ack as number) < mid && !atValues.has(w.i)).map((w) => w.i)).toEqual([]);
    expect(writes.filter((w) => w.start > mid && atValues.has(w.i)).map((w) => w.i)).toEqual([]);
    expect(atValues.size).toBeGreaterThan(0);
    expect(atValues.size).toBeLessThan(present.size);

    // By position: the newest position as `ats backups` printed it.
    const posDb = path.join(dir, 'pos.db');
    const pos = await runCli(
      ['restore', '--db', posDb, '--from', url, '--position', lineage.restorable.newestPosition, '--yes'],
      { env },
    );
    expect(pos.code).toBe(0);
    expect(pos.stdout).toContain(`to position ${lineage.restorable.newestPosition}`);
    expect(allRows(posDb)).toEqual(allRows(newest));
  }, 120_000);

  it('retention in ats serve, encrypted: keep = 2 leaves two snapshots and the chain after the older one; the newest restores with the key', async () => {
    const url = `s3://${server.bucket}/cont/kept`;
    const env = s3Env(server.endpoint);
    const sub = path.join(dir, 'kept');
    fs.mkdirSync(sub);
    const keyFile = path.join(sub, 'backup.key');
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'));
    const config = writeConfig(
      sub,
      `[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n[[Database.destination]]\nurl = "${url}"\ncontinuous = true\nencryption_key_file = "backup.key"\nkeep = 2\nsync_interval_seconds = 0.2\nsnapshot_interval_seconds = 1\n\n[Pulse]\nticker_interval_seconds = 0.1\n\n[Server]\nport = 0\n`,
    );
    const writes: Write[] = [];
    service = await startService(config, { env });
    await writeFor(service.url, 4500, writes);
    const svc = service;
    await waitFor(() => svc.events('continuous_retention').length > 0, 20_000, 'a retention pass');
    await new Promise((r) => setTimeout(r, 1000)); // the last upload, and the retention after it
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    const names = (await openDestination(url, { env }).listPrefix('lineages/')).map((e) => e.name);
    expect(names.filter((n) => n.endsWith('.snap'))).toHaveLength(2);
    const destination = openDestination(url, { env });
    for (const name of names) {
      const head: Buffer[] = [];
      for await (const chunk of await destination.open(name, { end: 128 })) head.push(Buffer.from(chunk));
      expect({ name, encrypted: isEncryptedHeader(Buffer.concat(head)) }).toEqual({ name, encrypted: true });
    }
    const removed = svc.events('continuous_retention').reduce((n, e) => n + Number(e.removed), 0);
    expect(removed).toBeGreaterThan(0);
    const listed = await runCli(['backups', '--from', url, '--json'], { env });
    const { lineages } = JSON.parse(listed.stdout) as {
      lineages: { snapshots: unknown[]; gaps: string[] }[];
    };
    expect(lineages.map((l) => [l.snapshots.length, l.gaps])).toEqual([[2, []]]);
    const newest = path.join(sub, 'newest.db');
    const keyless = await runCli(['restore', '--db', newest, '--from', url, '--yes'], { env });
    expect(keyless.code).toBe(2);
    expect(keyless.stderr).toMatch(/is encrypted \(key id [0-9a-f]{16}\) and no key was given/);
    const cli = await runCli(
      ['restore', '--db', newest, '--from', url, '--encryption-key-file', keyFile, '--yes'],
      { env },
    );
    expect(cli.code).toBe(0);
    expect(allRows(newest)).toEqual(allRows(path.join(sub, 'data', 'ats.db')));
    expect(writes.filter((w) => w.ack !== undefined && !valuesIn(newest).has(w.i))).toEqual([]);
  }, 90_000);
});
