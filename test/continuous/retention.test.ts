// Retention of continuous backups (design note, sequence 6): it keeps the configured window, never
// the chain from the newest snapshot, and never what a running restore leased. Real SQLite, a real
// WAL shipper, a real folder destination; the shipper's clock is set by the test, and a restore is
// held at one object by a gate around the store (to order it against retention, nothing faked).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyContinuousRetention,
  BackupError,
  compactSegments,
  EncryptingStore,
  FolderStore,
  isEncryptedHeader,
  loadKeyFile,
  type ObjectStore,
  planRestore,
  restoreContinuous,
  takeStoreLease,
} from '../../dist/backup/index.js';
import { rejection, removeDir, tempDir } from '../helpers.js';
import { idsIn, objectKeys, Primary } from './primary.js';

const HOUR = 3_600_000;
let dir: string;
let primary: Primary | undefined;
let clock = Date.UTC(2026, 0, 1);
let out = 0;
beforeEach(() => {
  dir = tempDir('ats-cont-ret-');
  clock = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  primary?.close();
  primary = undefined;
  removeDir(dir);
});

function open(snapshotIntervalMs: number): Primary {
  primary = new Primary(dir, { snapshotIntervalMs, now: () => clock });
  return primary;
}

/** The store with `get` of keys matching `at` held until `open()` is called. */
function gated(
  store: ObjectStore,
  at: (key: string, op: 'get' | 'put') => boolean,
): { store: ObjectStore; reached: Promise<void>; open: () => void } {
  let reach: () => void = () => {};
  let release: () => void = () => {};
  const reached = new Promise<void>((r) => (reach = r));
  const opened = new Promise<void>((r) => (release = r));
  const hold = async (key: string, op: 'get' | 'put'): Promise<void> => {
    if (!at(key, op)) return;
    reach();
    await opened;
  };
  return {
    reached,
    open: () => release(),
    store: {
      url: store.url,
      put: async (key, file) => {
        await hold(key, 'put');
        return store.put(key, file);
      },
      get: async (key, file) => {
        await hold(key, 'get');
        return store.get(key, file);
      },
      head: (key, bytes) => store.head(key, bytes),
      list: (prefix) => store.list(prefix),
      remove: (keys) => store.remove(keys),
      ...(store.plain ? { plain: store.plain } : {}),
    },
  };
}

async function restoreIds(
  store: ObjectStore,
  target: { atMs?: number; position?: { lineage: string; txid: bigint } },
): Promise<number[]> {
  const file = path.join(dir, `out-${++out}.db`);
  await restoreContinuous({ store, database: file, verify: 'quick', ...target });
  return idsIn(file);
}

describe('6. retention during a restore', () => {
  /** A snapshot at txid 1, segments 2..3, a snapshot at 4 (with segment 4), segment 5. */
  async function history(p: Primary): Promise<{ lineage: string; idsAt3: number[] }> {
    await p.shipper.start(); // snapshot 1
    p.write(2);
    clock += 100;
    await p.shipper.sync(); // segment 2
    p.write(2);
    clock += 100;
    await p.shipper.sync(); // segment 3
    const idsAt3 = p.ids();
    p.write(2);
    clock += 2000;
    await p.shipper.sync(); // segment 4, snapshot 4
    p.write(2);
    clock += 100;
    await p.shipper.sync(); // segment 5
    return { lineage: p.shipper.position?.lineage ?? '', idsAt3 };
  }

  it('a restore in progress keeps what it leased; retention removes it only once the restore is done', async () => {
    const p = open(1000);
    const { lineage, idsAt3 } = await history(p);
    const keys = objectKeys(path.join(dir, 'remote'));
    const named = (suffix: string): string => keys.find((k) => k.endsWith(suffix)) as string;
    const snap1 = named('/snapshots/0000000000000001.snap');
    const seg2 = named('/segments/0000000000000002-0000000000000002.seg');
    const seg3 = named('/segments/0000000000000003-0000000000000003.seg');
    const seg4 = named('/segments/0000000000000004-0000000000000004.seg');
    expect(keys.filter((k) => k.endsWith('.snap'))).toHaveLength(2);

    // The restore to txid 3 needs snapshot 1 and segments 2 and 3; it stops before reading segment 3.
    const gate = gated(p.store, (key, op) => op === 'get' && key === seg3);
    const running = restoreIds(gate.store, { position: { lineage, txid: 3n } });
    await gate.reached;
    const during = await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock);
    expect(during.oldestKept?.key).toMatch(/snapshots\/0000000000000004\.snap$/);
    expect(during.held).toEqual([snap1, seg2, seg3]);
    expect(during.removed).toEqual([seg4]); // before the kept snapshot, and nobody needs it
    gate.open();
    expect(await running).toEqual(idsAt3);

    // Released: the next pass removes them, and the moment has left the window (a clear error).
    const after = await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock);
    expect(after.removed).toEqual([snap1, seg2, seg3]);
    expect(after.held).toEqual([]);
    expect(objectKeys(path.join(dir, 'remote')).filter((k) => k.endsWith('.lease'))).toEqual([]);
    await rejection(
      restoreIds(p.store, { position: { lineage, txid: 3n } }),
      BackupError,
      'ATS_BACKUP_NO_BACKUP',
    );
    // The chain from the newest snapshot is whole: the newest position is the primary.
    expect(await restoreIds(p.store, {})).toEqual(p.ids());
    // A pass with nothing to do removes nothing, and a retried removal of gone keys succeeds.
    expect(
      (await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock)).removed,
    ).toEqual([]);
    await p.store.remove([snap1, seg2]);
  });

  it('a lease taken while retention runs, after its listing, still keeps what it holds', async () => {
    const p = open(1000);
    const { lineage, idsAt3 } = await history(p);
    const keys = objectKeys(path.join(dir, 'remote'));
    const named = (suffix: string): string => keys.find((k) => k.endsWith(suffix)) as string;
    const needed = [
      named('/snapshots/0000000000000001.snap'),
      named('/segments/0000000000000002-0000000000000002.seg'),
      named('/segments/0000000000000003-0000000000000003.seg'),
    ];
    // A restore to txid 3 takes its lease right after retention's listing: the interleaving
    // that used to lose what it holds.
    let release: (() => Promise<void>) | undefined;
    const racing: ObjectStore = {
      url: p.store.url,
      put: (key, file) => p.store.put(key, file),
      get: (key, file) => p.store.get(key, file),
      head: (key, bytes) => p.store.head(key, bytes),
      list: async (prefix) => {
        const listed = await p.store.list(prefix);
        release ??= await takeStoreLease(p.store, needed, path.join(dir, 'lease.tmp'), clock);
        return listed;
      },
      remove: (keys) => p.store.remove(keys),
    };
    const outcome = await applyContinuousRetention(racing, { keep: 1, keepDays: undefined }, clock);
    expect(outcome.held).toEqual(needed);
    expect(outcome.removed).toEqual([named('/segments/0000000000000004-0000000000000004.seg')]);
    expect(await restoreIds(p.store, { position: { lineage, txid: 3n } })).toEqual(idsAt3);
    await release?.();
  });

  it('retention between the plan and the lease: the restore plans again and says the moment left the window', async () => {
    const p = open(1000);
    const { lineage } = await history(p);
    const gate = gated(p.store, (key, op) => op === 'put' && key.endsWith('.lease'));
    const running = restoreIds(gate.store, { position: { lineage, txid: 3n } });
    await gate.reached; // planned, the lease not written yet
    const pass = await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock);
    expect(pass.removed).toHaveLength(4);
    gate.open();
    await rejection(running, BackupError, 'ATS_BACKUP_NO_BACKUP');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('out-'))).toEqual([]); // nothing installed
    expect(objectKeys(path.join(dir, 'remote')).filter((k) => k.endsWith('.lease'))).toEqual([]);
  });

  it('an unreadable lease holds everything; an expired one holds nothing and is removed', async () => {
    const p = open(1000);
    await history(p);
    const remote = path.join(dir, 'remote');
    fs.writeFileSync(path.join(remote, '20260101T000000000Z-restore-00000000.lease'), 'not json');
    const held = await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock);
    expect(held.removed).toEqual([]);
    expect(held.held).toHaveLength(4);
    fs.writeFileSync(
      path.join(remote, '20260101T000000000Z-restore-00000000.lease'),
      JSON.stringify({ name: 'x', holds: ['*'], until: new Date(clock - 1).toISOString() }),
    );
    const expired = await applyContinuousRetention(p.store, { keep: 1, keepDays: undefined }, clock);
    expect(expired.removed).toHaveLength(4);
    expect(objectKeys(remote).filter((k) => k.endsWith('.lease'))).toEqual([]);
  });
});

describe('an encrypted continuous destination', () => {
  it('leases stay plain JSON, retention and compaction work through the encryption, restores need the key', async () => {
    const keyFile = path.join(dir, 'key');
    fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'));
    const remote = path.join(dir, 'remote-enc');
    const store = new EncryptingStore(new FolderStore(remote), loadKeyFile(keyFile));
    primary = new Primary(dir, { snapshotIntervalMs: 1000, now: () => clock, store });
    const p = primary;
    await p.shipper.start();
    for (let i = 0; i < 6; i++) {
      p.write(2);
      clock += 100;
      await p.shipper.sync();
    }
    const idsAt7 = p.ids();
    p.write(2);
    clock += 2000;
    await p.shipper.sync(); // segment 8 and snapshot 8
    const lineage = p.shipper.position?.lineage as string;
    const seg = objectKeys(remote).find((k) => k.endsWith('0000000000000007-0000000000000007.seg')) as string;
    const gate = gated(store, (key, op) => op === 'get' && key === seg);
    const running = restoreIds(gate.store, { position: { lineage, txid: 7n } });
    await gate.reached;
    const [leaseKey] = objectKeys(remote).filter((k) => k.endsWith('.lease'));
    const lease = JSON.parse(fs.readFileSync(path.join(remote, leaseKey as string), 'utf8')) as {
      holds: string[];
    };
    expect(lease.holds).toHaveLength(7); // snapshot 1 and segments 2..7, in clear for any retention
    const during = await applyContinuousRetention(store, { keep: 1, keepDays: undefined }, clock);
    expect(during.held).toHaveLength(7);
    gate.open();
    expect(await running).toEqual(idsAt7);
    const merged = await compactSegments(store, path.join(dir, 'scratch'), { minSegments: 3, maxTxids: 100 });
    expect(merged.merged).toHaveLength(1); // segments 2..7 (segment 8 is past the snapshot's boundary)
    const head = fs.readFileSync(path.join(remote, ...(merged.merged[0] as string).split('/')));
    expect(isEncryptedHeader(head)).toBe(true);
    expect(await restoreIds(store, { position: { lineage, txid: 7n } })).toEqual(idsAt7);
    await rejection(
      restoreIds(new EncryptingStore(new FolderStore(remote), undefined), {
        position: { lineage, txid: 7n },
      }),
      BackupError,
      'ATS_BACKUP_KEY',
    );
  });
});

describe('retention keeps every moment of the window restorable', () => {
  it('keep_days and keep, across a lineage change: each moment in the window restores to what the primary held', async () => {
    const p = open(6 * HOUR);
    await p.shipper.start();
    const moments: { t: number; ids: number[] }[] = [{ t: clock, ids: p.ids() }];
    let removed = 0;
    /** Restores the moments from `from` on (with `sample`, the two oldest and the newest) and compares them. */
    const checkWindow = async (from: number, sample = false): Promise<number> => {
      const inWindow = moments.filter((x) => x.t >= from);
      const checked = sample ? [...inWindow.slice(0, 2), ...inWindow.slice(-1)] : inWindow;
      for (const m of checked)
        expect({ t: new Date(m.t).toISOString(), ids: await restoreIds(p.store, { atMs: m.t }) }).toEqual({
          t: new Date(m.t).toISOString(),
          ids: m.ids,
        });
      return inWindow.length;
    };
    for (let step = 1; step <= 30; step++) {
      clock += 2 * HOUR;
      p.write(1);
      await p.shipper.sync();
      moments.push({ t: clock, ids: p.ids() });
      if (step === 14) {
        // Another tool checkpoints while the shipper is down: a new lineage starts.
        p.shipper.abandon();
        p.write(1);
        const other = new Database(p.file);
        other.pragma('wal_checkpoint(TRUNCATE)');
        other.close();
        clock += 60_000;
        await p.restartShipper(6 * HOUR).start();
        moments.push({ t: clock, ids: p.ids() });
      }
      if (step % 5 === 0) {
        const pass = await applyContinuousRetention(p.store, { keep: undefined, keepDays: 1 }, clock);
        removed += pass.removed.length;
        const oldest = pass.oldestKept?.timeMs as number;
        expect(oldest).toBeLessThanOrEqual(Math.max(clock - 24 * HOUR, moments[0]?.t as number));
        // Every moment of the last day restores exactly; the snapshot before the window was kept for it.
        expect(await checkWindow(clock - 24 * HOUR, step < 30)).toBeGreaterThanOrEqual(Math.min(step, 12));
      }
    }
    expect(removed).toBeGreaterThan(10); // the old lineage and old snapshots and segments went
    // The lineage before the change is gone whole: its last moments are more than a day old.
    const lineageDirs = objectKeys(path.join(dir, 'remote'))
      .filter((k) => k.startsWith('lineages/'))
      .map((k) => k.split('/')[1]);
    expect(new Set(lineageDirs).size).toBe(1);
    await rejection(planRestore(p.store, { atMs: moments[1]?.t }), BackupError, 'ATS_BACKUP_NO_BACKUP');

    // keep = 2: the window starts at the second newest snapshot.
    const pass = await applyContinuousRetention(p.store, { keep: 2, keepDays: undefined }, clock);
    expect(pass.removed.length).toBeGreaterThan(0);
    expect(await checkWindow(pass.oldestKept?.timeMs as number)).toBeGreaterThanOrEqual(3);
    expect(await restoreIds(p.store, {})).toEqual(p.ids());
  }, 60_000);
});
