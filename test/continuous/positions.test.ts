// WalShipper.commitPosition: the position a write is told is exactly the transaction it committed
// in (when nothing else committed after it), across syncs, PASSIVE checkpoints, sealed restarts and
// a new lineage; restoring at each position gives the rows written up to that write, no more.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { restoreContinuous } from '../../dist/backup/index.js';
import { removeDir, tempDir } from '../helpers.js';
import { idsIn, Primary } from './primary.js';

let dir: string;
let primary: Primary | undefined;
afterEach(() => {
  primary?.close();
  primary = undefined;
  removeDir(dir);
});

describe('commitPosition', () => {
  it('names the transaction of each write, whatever the shipper did in between', async () => {
    dir = tempDir('ats-positions-');
    const p = new Primary(dir);
    primary = p;
    await p.shipper.start();
    const seen: { position: { lineage: string; txid: bigint }; ids: number[] }[] = [];
    const steps = [
      () => undefined,
      () => p.shipper.sync(),
      () => p.checkpoint(),
      () => p.restart('RESTART'),
      () => p.restart('TRUNCATE'),
    ];
    for (let i = 0; i < 40; i++) {
      p.write(1 + (i % 3), i % 7 === 0 ? 5000 : 50); // some writes span many pages
      const position = p.shipper.commitPosition();
      expect(position).toBeDefined();
      seen.push({ position: position as { lineage: string; txid: bigint }, ids: p.ids() });
      await steps[i % steps.length]?.();
    }
    await p.shipper.sync();
    const txids = seen.map((s) => s.position.txid);
    expect(new Set(txids).size).toBe(txids.length); // one transaction per write, none skipped twice
    for (let i = 1; i < txids.length; i++) expect(txids[i]).toBe((txids[i - 1] as bigint) + 1n);
    for (const s of seen.filter((_, i) => i % 6 === 0 || i === seen.length - 1)) {
      const out = path.join(dir, `at-${s.position.txid}.db`);
      await restoreContinuous({ store: p.store, database: out, verify: 'quick', position: s.position });
      expect(idsIn(out)).toEqual(s.ids);
    }
    const wait = p.shipper.waitUploaded(seen.at(-1)?.position as { lineage: string; txid: bigint });
    expect((await wait.done).kind).toBe('uploaded');
  });
});
