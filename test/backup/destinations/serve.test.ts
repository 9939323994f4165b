// `ats serve` with [[Database.destination]]: each verified periodic backup goes up in the
// background; an unchanged database costs no request; a failing server never stops the local
// backups and shows in /backups, /metrics and the log; config mistakes refuse to start (exit 2,
// file:line) with nothing uploaded. Every restore is compared row for row.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  attestation,
  removeDir,
  runCli,
  type Service,
  startService,
  tempDir,
  waitFor,
  writeConfig,
} from '../../helpers.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { type S3Server, s3Env, startS3Server } from './s3-server.js';

let server: S3Server;
let proxy: FaultProxy;
let dir: string;
let service: Service | undefined;
let run = 0;

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.endpoint);
  dir = tempDir('ats-offsite-serve-');
});
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  proxy.clear();
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  removeDir(dir);
});

interface Status {
  last: { startedAt: string } | null;
  lastFailure: object | null;
  destinations: {
    url: string;
    uploads: number;
    failures: number;
    skipped: number;
    lastFailure?: { reason: string };
  }[];
}

const status = async (s: Service): Promise<Status> =>
  (await (await fetch(`${s.url}/backups`)).json()) as Status;
const put = (s: Service, from: number, n: number) =>
  fetch(`${s.url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: n }, (_, i) => attestation(from + i))),
  });

function rowsOf(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[];
    return Object.fromEntries(
      tables.map(({ name }) => [
        name,
        (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n,
      ]),
    );
  } finally {
    db.close();
  }
}

function setUp(extra = ''): { config: string; url: string; db: string } {
  const home = path.join(dir, `svc-${++run}`);
  fs.mkdirSync(home);
  const url = `s3://${server.bucket}/serve/run-${run}`;
  const config = writeConfig(
    home,
    `[Database]\npath = "./data/ats.db"\nbackup_interval_seconds = 1\n\n[Pulse]\nticker_interval_seconds = 0.2\n\n[Server]\nport = 0\n\n[[Database.destination]]\nurl = "${url}"\nkeep = 2\n${extra}`,
  );
  return { config, url, db: path.join(home, 'data', 'ats.db') };
}

describe('ats serve uploads to its destinations', () => {
  it('uploads each changed backup, none when nothing changed (0 requests), and keeps the newest 2', async () => {
    const { config, url, db } = setUp();
    service = await startService(config, { env: s3Env(proxy.endpoint) });
    const s = service;
    expect((await put(s, 0, 50)).status).toBe(201);
    await waitFor(async () => (await status(s)).destinations[0]!.uploads >= 1, 30_000, 'a first upload');
    for (let round = 1; round <= 3; round++) {
      const before = (await status(s)).destinations[0]!.uploads;
      expect((await put(s, round * 100, 50)).status).toBe(201);
      await waitFor(
        async () => (await status(s)).destinations[0]!.uploads > before,
        30_000,
        `upload ${round}`,
      );
    }
    // Idle: local backups go on every second, the uploads stop, and the proxy sees no request at all.
    await waitFor(async () => (await status(s)).destinations[0]!.skipped >= 1, 30_000, 'a skipped upload');
    const seen = proxy.seen.length;
    const skipped = (await status(s)).destinations[0]!.skipped;
    await waitFor(
      async () => (await status(s)).destinations[0]!.skipped >= skipped + 3,
      30_000,
      'three more idle backups',
    );
    expect(proxy.seen.slice(seen)).toEqual([]);

    const listed = JSON.parse(
      (await runCli(['backups', '--from', url, '--json'], { env: server.env })).stdout,
    ) as { backups: unknown[] };
    expect(listed.backups).toHaveLength(2); // keep = 2
    await s.stop('SIGTERM');
    service = undefined;
    const restored = path.join(dir, `restored-${run}`, 'ats.db');
    const r = await runCli(['restore', '--db', restored, '--from', url, '--yes'], { env: server.env });
    expect(r.stderr).toBe('');
    // A restored database starts a new lineage (one more ats_lineage row); everything else is equal.
    const { ats_lineage: restoredLineages, ...restoredRows } = rowsOf(restored);
    const { ats_lineage: lineages, ...liveRows } = rowsOf(db);
    expect(restoredRows).toEqual(liveRows);
    expect(restoredLineages).toBe((lineages ?? 0) + 1);
    expect(rowsOf(restored).attestations).toBe(200);
  });

  it('a failing server never stops the local backups and shows in /backups, /metrics and the log', async () => {
    const { config, url } = setUp();
    service = await startService(config, { env: s3Env(proxy.endpoint) });
    const s = service;
    await put(s, 0, 10);
    await waitFor(async () => (await status(s)).destinations[0]!.uploads >= 1, 30_000, 'a first upload');
    proxy.inject(
      (m) => m === 'PUT' || m === 'POST',
      { kind: 'status', status: 500, code: 'InternalError' },
      100_000,
    );
    await put(s, 10, 10);
    await waitFor(async () => (await status(s)).destinations[0]!.failures >= 1, 60_000, 'a failed upload');
    const st = await status(s);
    expect(st.lastFailure).toBeNull(); // the local backup did not fail
    expect(st.destinations[0]!.lastFailure?.reason).toMatch(/HTTP 500/);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toContain(`ats_offsite_uploads_total{destination="${url}",outcome="failure"}`);
    expect(metrics).toMatch(new RegExp(`ats_offsite_last_success_age_seconds\\{destination="${url}"\\} \\d`));
    expect(s.events('offsite_fail').length).toBeGreaterThan(0);
    const localBefore = (await status(s)).last?.startedAt;
    await waitFor(
      async () => (await status(s)).last?.startedAt !== localBefore,
      30_000,
      'another local backup',
    );
    proxy.clear();
    const uploads = (await status(s)).destinations[0]!.uploads;
    await put(s, 20, 10);
    await waitFor(
      async () => (await status(s)).destinations[0]!.uploads > uploads,
      60_000,
      'an upload after recovery',
    );
  });
});

describe('[[Database.destination]] mistakes refuse to start: exit 2, file:line, nothing uploaded', () => {
  for (const [what, extra, message] of [
    [
      'an unknown key',
      'kepe_days = 3\n',
      /am\.toml:14: unknown key \[\[Database\.destination\]\] kepe_days \(did you mean keep_days\?\)/,
    ],
    [
      'a missing key file',
      'encryption_key_file = "./absent.key"\n',
      /am\.toml:14: .*encryption_key_file .*absent\.key does not exist/,
    ],
    [
      'a malformed key file',
      'encryption_key_file = "./short.key"\n',
      /read encryption key .*short\.key: not a 256-bit key/,
    ],
  ] as const) {
    it(what, async () => {
      const { config } = setUp(extra);
      fs.writeFileSync(path.join(path.dirname(config), 'short.key'), 'abc');
      const seen = proxy.seen.length;
      const r = await runCli(['serve', '--config', config], {
        env: s3Env(proxy.endpoint),
        killAfterMs: 20_000,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(proxy.seen.length).toBe(seen);
    });
  }

  it('a malformed URL', async () => {
    const home = path.join(dir, `bad-url-${++run}`);
    fs.mkdirSync(home);
    const config = writeConfig(
      home,
      '[Database]\npath = "./ats.db"\n\n[[Database.destination]]\nurl = "s3://Bad_Bucket/x"\n',
    );
    const r = await runCli(['serve', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/am\.toml:5: \[\[Database\.destination\]\] url has bucket "Bad_Bucket"/);
  });
});
