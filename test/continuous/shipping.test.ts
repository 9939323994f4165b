import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { restoreContinuous } from '../../dist/backup/index.js';
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
    const after = { ...primary.store.requests };
    for (let i = 0; i < 20; i++) {
      await primary.shipper.sync();
      primary.checkpoint();
    }
    expect(primary.store.requests).toEqual(after);
    // and one write is one PUT
    primary.write(1);
    await primary.shipper.sync();
    await primary.shipper.sync();
    expect(primary.store.requests.put).toBe(after.put + 1);
  });

  it('several seals between two syncs are uploaded as one object', async () => {
    primary = new Primary(dir);
    await primary.shipper.start();
    const before = primary.store.requests.put;
    for (let i = 0; i < 5; i++) {
      primary.write(2);
      primary.checkpoint();
    }
    await primary.shipper.sync();
    expect(primary.store.requests.put).toBe(before + 1);
    const { out } = await restoreTo();
    expect(idsIn(out)).toEqual(range(1, 10));
  });
});
