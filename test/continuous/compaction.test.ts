// Compaction of continuous segments: runs of small segments become one object holding every
// transaction's record, so every position still restores, with fewer objects to read. Real SQLite,
// a real WAL shipper, a real folder destination.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BackupError,
  compactSegments,
  describeContinuous,
  type ObjectStore,
  restoreContinuous,
  takeStoreLease,
} from '../../dist/backup/index.js';
import { rejection, removeDir, tempDir } from '../helpers.js';
import { idsIn, objectKeys, Primary } from './primary.js';

let dir: string;
let primary: Primary | undefined;
let clock = Date.UTC(2026, 0, 1);
let out = 0;
beforeEach(() => {
  dir = tempDir('ats-cont-compact-');
  clock = Date.UTC(2026, 0, 1);
});
afterEach(() => {
  primary?.close();
  primary = undefined;
  removeDir(dir);
});

const policy = { minSegments: 10, maxTxids: 16 };

/** A lineage: its snapshot at txid 1, then `n` one-transaction segments (txids 2..n+1); ids after each txid. */
async function shipped(n: number, snapshotEvery = 0): Promise<{ p: Primary; idsAt: number[][] }> {
  const p = new Primary(dir, { snapshotIntervalMs: snapshotEvery, now: () => clock });
  primary = p;
  await p.shipper.start();
  const idsAt: number[][] = [[], p.ids()];
  for (let i = 0; i < n; i++) {
    p.write(2);
    if (i % 7 === 3) p.checkpoint();
    if (i === 20) p.restart();
    clock += 1000;
    await p.shipper.sync();
    idsAt.push(p.ids());
  }
  return { p, idsAt };
}

async function restoreIds(store: ObjectStore, txid: bigint, lineage: string): Promise<number[]> {
  const file = path.join(dir, `out-${++out}.db`);
  await restoreContinuous({ store, database: file, verify: 'quick', position: { lineage, txid } });
  return idsIn(file);
}

const segmentsOf = (remote: string): string[] => objectKeys(remote).filter((k) => k.endsWith('.seg'));
/** A segment key's txid range, in decimal (`2-17`). */
const range = (k: string): string =>
  (/segments\/(\w+)-(\w+)\.seg$/.exec(k) ?? [])
    .slice(1)
    .map((x) => String(BigInt(`0x${x}`)))
    .join('-');

describe('compaction of segments', () => {
  it('merges runs of small segments; every position still restores to what the primary held', async () => {
    const { p, idsAt } = await shipped(40);
    const remote = path.join(dir, 'remote');
    expect(segmentsOf(remote)).toHaveLength(40);
    const pass = await compactSegments(p.store, path.join(dir, 'scratch'), policy);
    // 2..41 in runs of at most 16 transactions; the last 8 are too few to merge yet.
    expect(pass.merged.map(range)).toEqual(['2-17', '18-33']);
    expect(pass.removed).toHaveLength(32);
    expect(segmentsOf(remote).map(range)).toEqual([
      '2-17',
      '18-33',
      ...Array.from({ length: 8 }, (_, i) => `${34 + i}-${34 + i}`),
    ]);
    const lineage = p.shipper.position?.lineage as string;
    // Each end of each object, inside them, and the small segments left.
    for (const txid of [1, 2, 3, 9, 17, 18, 25, 33, 34, 38, 41])
      expect({ txid, ids: await restoreIds(p.store, BigInt(txid), lineage) }).toEqual({
        txid,
        ids: idsAt[txid],
      });
    const [summary] = await describeContinuous(p.store);
    expect(summary?.gaps).toEqual([]);
    expect(summary?.continuous?.fromTxid).toBe('2');
    expect(summary?.continuous?.toTxid).toBe('41');
    // Nothing more to do: a second pass changes nothing.
    expect(await compactSegments(p.store, path.join(dir, 'scratch'), policy)).toEqual({
      merged: [],
      removed: [],
      held: [],
    });
  }, 60_000);

  it('merges by tiers: a merged object is merged again only with its peers, not at every pass', async () => {
    const p = new Primary(dir, { now: () => clock });
    primary = p;
    await p.shipper.start();
    const idsAt: number[][] = [[], p.ids()];
    const ship = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        p.write(1);
        await p.shipper.sync();
        idsAt.push(p.ids());
      }
    };
    const compact = async (): Promise<string[]> =>
      (
        await compactSegments(p.store, path.join(dir, 'scratch'), { minSegments: 4, maxTxids: 1000 })
      ).merged.map(range);
    await ship(4);
    expect(await compact()).toEqual(['2-5']);
    await ship(4);
    expect(await compact()).toEqual(['6-9']); // not 2-9: 2-5 is of the next tier already
    await ship(4);
    expect(await compact()).toEqual(['10-13']);
    await ship(4);
    expect(await compact()).toEqual(['14-17']); // the pass works from its listing: three of tier 1 then
    await ship(2);
    expect(await compact()).toEqual(['2-17']); // four of the next tier
    expect(segmentsOf(path.join(dir, 'remote')).map(range)).toEqual(['2-17', '18-18', '19-19']);
    const lineage = p.shipper.position?.lineage as string;
    for (const txid of [5, 6, 17, 19])
      expect(await restoreIds(p.store, BigInt(txid), lineage)).toEqual(idsAt[txid]);
    await rejection(
      compactSegments(p.store, path.join(dir, 'scratch'), { minSegments: 1, maxTxids: 10 }),
      BackupError,
      'ATS_BACKUP_INVALID',
    );
  }, 60_000);

  it('never merges across a snapshot', async () => {
    const { p } = await shipped(30, 12_000); // a snapshot every 12 syncs
    const snaps = objectKeys(path.join(dir, 'remote'))
      .filter((k) => k.endsWith('.snap'))
      .map((k) => BigInt(`0x${/(\w+)\.snap$/.exec(k)?.[1]}`));
    expect(snaps.length).toBeGreaterThan(1);
    const pass = await compactSegments(p.store, path.join(dir, 'scratch'), { minSegments: 5, maxTxids: 100 });
    expect(pass.merged.length).toBeGreaterThan(1);
    for (const key of pass.merged) {
      const [a, b] = range(key).split('-').map(BigInt);
      expect(snaps.filter((t) => t >= (a as bigint) && t < (b as bigint))).toEqual([]);
    }
  }, 60_000);

  it('leaves leased segments for a later pass, which removes them once they are covered and free', async () => {
    const { p, idsAt } = await shipped(12);
    const remote = path.join(dir, 'remote');
    const leased = segmentsOf(remote).slice(2, 4);
    const release = await takeStoreLease(p.store, leased, path.join(dir, 'lease.tmp'));
    const pass = await compactSegments(p.store, path.join(dir, 'scratch'), policy);
    expect(pass.merged.map(range)).toEqual(['2-13']);
    expect(pass.held).toEqual(leased);
    expect(segmentsOf(remote).sort()).toEqual([...leased, ...pass.merged].sort());
    const lineage = p.shipper.position?.lineage as string;
    expect(await restoreIds(p.store, 13n, lineage)).toEqual(idsAt[13]);
    await release();
    const again = await compactSegments(p.store, path.join(dir, 'scratch'), policy);
    expect(again).toEqual({ merged: [], removed: leased, held: [] });
    expect(segmentsOf(remote)).toEqual(pass.merged);
  }, 60_000);

  it('a damaged segment stops the pass: nothing merged is uploaded and nothing is removed', async () => {
    const { p } = await shipped(12);
    const remote = path.join(dir, 'remote');
    const before = objectKeys(remote);
    const victim = path.join(remote, ...(segmentsOf(remote)[5] as string).split('/'));
    const bytes = fs.readFileSync(victim);
    bytes[200] = (bytes[200] as number) ^ 0xff;
    fs.writeFileSync(victim, bytes);
    await rejection(
      compactSegments(p.store, path.join(dir, 'scratch'), policy),
      BackupError,
      'ATS_BACKUP_CHECKSUM',
    );
    expect(objectKeys(remote)).toEqual(before);
    expect(fs.readdirSync(path.join(dir, 'scratch'))).toEqual([]);
  }, 60_000);
});
