// A randomized soak of continuous backup through the real service: writers over HTTP, the
// service's own checkpoints, SIGKILLs of `ats serve`, then restores to random moments, each
// compared with the log of acknowledged writes: every write acknowledged before the moment is
// there, none begun after it. A tenth of the writes ask to be acknowledged only once off-site
// (`?durable=offsite`): right after each SIGKILL, before anything restarts, a restore from the
// destination holds every one of them. ATS_SOAK_SECONDS (default 20) sets its length.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderStore, restoreContinuous } from '../../dist/backup/index.js';
import { attestation, runCli, type Service, startService, tempDir, writeConfig } from '../helpers.js';

const SECONDS = Number(process.env.ATS_SOAK_SECONDS ?? 20);

interface Write {
  readonly i: number;
  readonly start: number;
  ack?: number;
  /** Posted with ?durable=offsite: acknowledged only once off-site. */
  readonly durable: boolean;
}

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
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

describe('continuous backup soak', () => {
  it(
    `writers, checkpoints and SIGKILLs for ${SECONDS} s; restores to random moments match the acknowledged writes`,
    async () => {
      dir = tempDir('ats-soak-');
      // Every write must stay: attestation(i) cycles through 70 (actor, context) pairs, so with the
      // default max_per_actor_context (64) writes past the 4,480th evict the oldest, and a longer
      // soak then "missed" acknowledged writes that the primary had evicted.
      const config = writeConfig(
        dir,
        '[ATS]\nmax_per_actor_context = 1000000\n\n[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n\n[[Database.destination]]\nurl = "remote"\ncontinuous = true\nsync_interval_seconds = 0.2\nsnapshot_interval_seconds = 0\n\n[Pulse]\nticker_interval_seconds = 0.1\n\n[Server]\nport = 0\n',
      );
      const writes: Write[] = [];
      let next = 0;
      let kills = 0;
      let durableChecked = 0;
      const lineageLog: string[] = [];
      const deadline = Date.now() + SECONDS * 1000;
      while (Date.now() < deadline) {
        service = await startService(config);
        const svc = service;
        const url = service.url;
        const until = Date.now() + 1000 + Math.random() * 2500;
        const writer = async (): Promise<void> => {
          while (Date.now() < until) {
            const w: Write = { i: next++, start: Date.now(), durable: Math.random() < 0.1 };
            writes.push(w);
            try {
              const res = await fetch(`${url}/attestations${w.durable ? '?durable=offsite' : ''}`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify([attestation(w.i)]),
              });
              if (res.status === 201) w.ack = Date.now();
            } catch {
              return; // the service was killed: this write's outcome is unknown
            }
            if (Math.random() < 0.05) await new Promise((r) => setTimeout(r, 300)); // idle: checkpoints catch up
          }
        };
        const running = Promise.all([writer(), writer()]);
        if (Math.random() < 0.7) {
          await new Promise((r) => setTimeout(r, until - Date.now() - 200));
          lineageLog.push(`kill at ${Date.now()}`);
          await service.stop('SIGKILL');
          kills++;
          await running;
          // The machine is gone now: whatever was acknowledged off-site is in a restore from there.
          const out = path.join(dir, `after-kill-${kills}.db`);
          await restoreContinuous({
            store: new FolderStore(path.join(dir, 'remote')),
            database: out,
            verify: 'quick',
          });
          const present = valuesIn(out);
          const lost = writes.filter((w) => w.durable && w.ack !== undefined && !present.has(w.i));
          if (lost.length > 0)
            console.log(
              'acknowledged writes missing after kill',
              kills,
              present.size,
              fs.readdirSync(path.join(dir, 'remote'), { recursive: true }).join('\n'),
              JSON.stringify(lost),
              lineageLog.join('\n'),
            );
          expect(lost.map((w) => w.i)).toEqual([]);
          durableChecked += writes.filter((w) => w.durable && w.ack !== undefined).length;
        } else {
          await running;
          expect(await service.stop('SIGTERM')).toBe(0);
        }
        for (const l of svc.logs)
          if (String(l.event).startsWith('continuous') || l.event === 'wal_doubt')
            lineageLog.push(JSON.stringify(l));
        service = undefined;
      }
      service = await startService(config); // ships what the last kill left
      await new Promise((r) => setTimeout(r, 500));
      expect(await service.stop('SIGTERM')).toBe(0);
      service = undefined;

      const acked = writes.filter((w) => w.ack !== undefined);
      expect(acked.length).toBeGreaterThan(50);
      const store = new FolderStore(path.join(dir, 'remote'));
      const first = acked[0]?.ack as number;
      const last = acked.at(-1)?.ack as number;
      let restores = 0;
      for (let k = 0; k < 8; k++) {
        const at = Math.floor(first + Math.random() * (last - first));
        const out = path.join(dir, `at-${k}.db`);
        await restoreContinuous({ store, database: out, verify: 'quick', atMs: at });
        const present = valuesIn(out);
        const missing = acked.filter((w) => (w.ack as number) < at && !present.has(w.i)).map((w) => w.i);
        const early = writes.filter((w) => w.start > at && present.has(w.i)).map((w) => w.i);
        if (missing.length > 0 || early.length > 0)
          console.log(
            'DEBUG',
            at,
            fs.readdirSync(path.join(dir, 'remote', 'lineages')),
            JSON.stringify(writes.filter((w) => missing.includes(w.i) || early.includes(w.i))),
            lineageLog.join('\n'),
          );
        expect({ at: new Date(at).toISOString(), missing, early }).toEqual({
          at: new Date(at).toISOString(),
          missing: [],
          early: [],
        });
        restores++;
      }
      // The newest position equals the primary, row for row.
      const newest = path.join(dir, 'newest.db');
      const cli = await runCli(['restore', '--db', newest, '--from', path.join(dir, 'remote'), '--yes']);
      expect(cli.code).toBe(0);
      expect(cli.stdout).toMatch(/checksum [0-9a-f]{16} equals the primary's/);
      expect(allRows(newest)).toEqual(allRows(path.join(dir, 'data', 'ats.db')));
      for (const w of acked) expect(valuesIn(newest).has(w.i)).toBe(true);
      const lineages = fs.readdirSync(path.join(dir, 'remote', 'lineages')).length;
      // Every restart proved where the shipper left off: one lineage, no snapshot forced by doubt.
      expect({ lineages, log: lineages === 1 ? [] : lineageLog }).toEqual({ lineages: 1, log: [] });
      console.log(
        `soak: ${SECONDS} s, ${writes.length} writes (${acked.length} acknowledged, ${acked.filter((w) => w.durable).length} of them off-site), ${kills} SIGKILLs, ${lineages} lineage(s), ${restores + 1} restores compared, ${kills} restores right after a kill holding every off-site acknowledgement (${durableChecked} checks), 0 wrong`,
      );
    },
    (SECONDS + 120) * 1000,
  ); // the rounds, then restarts and restores
});
