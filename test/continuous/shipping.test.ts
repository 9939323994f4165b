import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderDestination, restoreContinuous, streamStore } from '../../dist/backup/index.js';
import { removeDir, tempDir } from '../helpers.js';
import { idsIn, objectKeys, Primary, range } from './primary.js';

let dir: string;
let primary: Primary;
beforeEach(() => {
  dir = tempDir('ats-cont-');
});
afterEach(() => {
  primary?.close();
  removeDir(dir);
});

async function restoreTo(target: { atMs?: number; position?: { lineage: string; txid: bigint } } = {}) {
  const out = path.join(dir, `restored-${Math.random().toString(36).slice(2)}.db`);
  const result = await restoreContinuous({ store: primary.store, database: out, verify: 'quick', ...target });
  return { out, result };
}

describe('WAL shipping and restore', () => {
  it('ships a snapshot, then each committed transaction; a restore to the end has every row and the checksum', async () => {
    primary = new Primary(dir);
    primary.write(10);
    await primary.shipper.start();
    primary.write(5);
    primary.write(5);
    await primary.shipper.sync();
    const keys = objectKeys(path.join(dir, 'remote'));
    expect(keys.filter((k) => k.endsWith('.snap'))).toHaveLength(1);
    expect(keys.filter((k) => k.endsWith('.seg'))).toHaveLength(1);
    const { out, result } = await restoreTo();
    expect(idsIn(out)).toEqual(range(1, 20));
    expect(result.txid).toBe(3n);
    expect(result.checksum).toBe(primary.shipper.position?.checksum);
  });

  it('restores to any position in the chain: exactly the transactions up to it', async () => {
    primary = new Primary(dir);
    await primary.shipper.start();
    for (let i = 0; i < 6; i++) {
      primary.write(3);
      await primary.shipper.sync();
    }
    const lineage = primary.shipper.position?.lineage as string;
    for (let txid = 1; txid <= 7; txid++) {
      const { out } = await restoreTo({ position: { lineage, txid: BigInt(txid) } });
      expect(idsIn(out)).toEqual(range(1, (txid - 1) * 3));
    }
  });

  it('nothing is uploaded when nothing changed (sequence 7: an idle database)', async () => {
    primary = new Primary(dir);
    primary.write(3);
    await primary.shipper.start();
    const after = { ...primary.folder.requests };
    for (let i = 0; i < 20; i++) {
      await primary.shipper.sync();
      primary.checkpoint();
    }
    expect(primary.folder.requests).toEqual(after);
    // and one write is one PUT
    primary.write(1);
    await primary.shipper.sync();
    await primary.shipper.sync();
    expect(primary.folder.requests.put).toBe(after.put + 1);
  });

  it('an idle database takes no periodic snapshot either: one more once something changed, then none', async () => {
    let clock = Date.UTC(2026, 0, 1);
    primary = new Primary(dir, { snapshotIntervalMs: 1000, now: () => clock });
    primary.write(3);
    await primary.shipper.start(); // the lineage's snapshot
    const idle = { ...primary.folder.requests };
    for (let i = 0; i < 5; i++) {
      clock += 5000; // every sync is past the snapshot interval
      await primary.shipper.sync();
    }
    expect(primary.folder.requests).toEqual(idle);
    primary.write(1);
    clock += 5000;
    await primary.shipper.sync(); // the segment, and a snapshot (the chain grew since the last one)
    expect(primary.folder.requests.put).toBe(idle.put + 2);
    const after = { ...primary.folder.requests };
    for (let i = 0; i < 5; i++) {
      clock += 5000;
      await primary.shipper.sync();
    }
    expect(primary.folder.requests).toEqual(after);
  });

  it('several seals between two syncs are uploaded as one object', async () => {
    primary = new Primary(dir);
    await primary.shipper.start();
    const before = primary.folder.requests.put;
    for (let i = 0; i < 5; i++) {
      primary.write(2);
      primary.checkpoint();
    }
    await primary.shipper.sync();
    expect(primary.folder.requests.put).toBe(before + 1);
    const { out } = await restoreTo();
    expect(idsIn(out)).toEqual(range(1, 10));
  });
});

describe('over a streaming destination (the off-site Destination shape)', () => {
  it('ships and restores through listPrefix / put(stream) / ranged open / remove', async () => {
    // The off-site folder destination (issue 14's Destination), adapted: lineages/ is listed by prefix.
    const root = path.join(dir, 'stream-remote');
    const destination = new FolderDestination(root);
    const store = streamStore(destination);
    const p = new Primary(dir, { store });
    primary = p;
    await p.shipper.start();
    p.write(4);
    await p.shipper.sync();
    p.write(3);
    p.checkpoint();
    await p.shipper.sync();
    const out = path.join(dir, 'from-stream.db');
    const result = await restoreContinuous({ store, database: out, verify: 'quick' });
    expect(idsIn(out)).toEqual(range(1, 7));
    expect(result.checksum).toBe(p.shipper.position?.checksum);
    const names = (await destination.listPrefix('')).map((e) => e.name);
    expect(names.length).toBeGreaterThan(1);
    expect(names.every((n) => n.startsWith('lineages/'))).toBe(true);
    expect(await destination.list()).toEqual([]); // nothing at the top level
  });
});

describe('when the destination fails', () => {
  it('keeps what it sealed and uploads it once the destination works again: nothing is lost', async () => {
    const p = new Primary(dir);
    primary = p;
    await p.shipper.start();
    p.write(3);
    await p.shipper.sync();
    const remoteDir = path.join(dir, 'remote');
    const aside = path.join(dir, 'remote-aside');
    fs.renameSync(remoteDir, aside);
    fs.writeFileSync(remoteDir, 'not a folder'); // every put fails now
    p.write(2);
    p.checkpoint(); // sealed and staged, checkpointed
    p.write(2);
    await expect(p.shipper.sync()).rejects.toThrow(/put backup object/);
    expect(p.shipper.position?.uploadedTxid).toBe(2n);
    fs.rmSync(remoteDir);
    fs.renameSync(aside, remoteDir);
    await p.shipper.sync();
    expect(p.shipper.position?.uploadedTxid).toBe(4n);
    const out = path.join(dir, 'after-outage.db');
    await restoreContinuous({ store: p.store, database: out, verify: 'quick' });
    expect(idsIn(out)).toEqual(range(1, 7));
  });
});
