// A new lineage whose first snapshot cannot be uploaded (the destination is down when the shipper
// has to start one) keeps that snapshot and uploads it before any of the lineage's segments: a
// lineage is never shipped without the snapshot its segments apply to, and nobody waiting for a
// write is told it is off-site before that snapshot is.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderStore, type ObjectStore, restoreContinuous, WalShipper } from '../../dist/backup/index.js';
import { removeDir, tempDir } from '../helpers.js';
import { idsIn, objectKeys, Primary } from './primary.js';

/** A folder destination whose puts fail while `down` is set. */
class FlakyStore implements ObjectStore {
  down = false;
  readonly #inner: FolderStore;
  constructor(inner: FolderStore) {
    this.#inner = inner;
  }
  get url(): string {
    return this.#inner.url;
  }
  async put(key: string, file: string): Promise<void> {
    if (this.down) throw new Error('destination down');
    return this.#inner.put(key, file);
  }
  get(key: string, file: string): Promise<void> {
    return this.#inner.get(key, file);
  }
  head(key: string, bytes: number): Promise<Buffer> {
    return this.#inner.head(key, bytes);
  }
  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }
  remove(keys: readonly string[]): Promise<void> {
    return this.#inner.remove(keys);
  }
}

let dir: string;
let primary: Primary | undefined;
afterEach(() => {
  primary?.close();
  primary = undefined;
  removeDir(dir);
});

describe('the first snapshot of a lineage during an outage', () => {
  it('is kept and uploaded before the lineage segments; waiters settle only after it', async () => {
    dir = tempDir('ats-snap-retry-');
    const store = new FlakyStore(new FolderStore(path.join(dir, 'remote')));
    const p = new Primary(dir, { store });
    primary = p;
    // A shipper on a clock of the test's: periodic snapshots only when the test moves it on.
    let clock = 1_000_000;
    p.shipper = new WalShipper({
      database: p.file,
      store,
      stagingDir: p.stagingDir,
      snapshotIntervalMs: 60_000,
      log: p.log.log,
      now: () => clock,
    });
    await p.shipper.start();
    p.write(5);
    await p.shipper.sync();
    p.checkpoint(); // the rows' pages are in the file now
    // The file edited behind SQLite's back (one character of a row's text): the next periodic
    // snapshot no longer matches the chain, so the shipper must start a new lineage.
    const bytes = fs.readFileSync(p.file);
    const at = bytes.indexOf('row 3 x');
    expect(at).toBeGreaterThan(0);
    const fd = fs.openSync(p.file, 'r+');
    fs.writeSync(fd, Buffer.from('y'), 0, 1, at + 6);
    fs.closeSync(fd);
    const first = p.shipper.position?.lineage;
    store.down = true;
    clock += 61_000;
    await p.shipper.sync(); // the periodic snapshot finds the mismatch
    // From here on no periodic snapshot is due (as when a lineage must start within an interval of
    // the last snapshot): nothing but the new lineage's own first snapshot can make it restorable.
    clock -= 60_000;
    await expect(p.shipper.sync()).rejects.toThrow('destination down'); // new lineage, its snapshot fails
    expect(p.shipper.position?.lineage).not.toBe(first);
    p.write(2);
    const position = p.shipper.commitPosition();
    expect(position?.lineage).toBe(p.shipper.position?.lineage);
    let settled: string | undefined;
    const wait = p.shipper.waitUploaded(position as { lineage: string; txid: bigint });
    void wait.done.then((o) => {
      settled = o.kind;
    });
    await expect(p.shipper.sync()).rejects.toThrow('destination down');
    await new Promise((r) => setImmediate(r));
    expect(settled).toBeUndefined();
    store.down = false;
    await p.shipper.sync();
    expect((await wait.done).kind).toBe('uploaded');
    const lineageDir = objectKeys(path.join(dir, 'remote')).filter((k) =>
      k.includes(p.shipper.position?.lineage as string),
    );
    expect(lineageDir.some((k) => k.endsWith('.snap'))).toBe(true);
    const out = path.join(dir, 'out.db');
    await restoreContinuous({ store, database: out, verify: 'quick' });
    expect(idsIn(out)).toEqual(p.ids());
  });
});
