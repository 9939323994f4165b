// The ten failure sequences of docs/design offsite-and-pitr.md, each as a deterministic test on a
// real primary (SQLite files, WAL, checkpoints from another connection) and a folder destination.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BackupError,
  checkObject,
  FolderStore,
  ObjectWriter,
  readObject,
  restoreContinuous,
  scanWal,
} from '../../dist/backup/index.js';
import { rejection, removeDir, tempDir } from '../helpers.js';
import { idsIn, objectKeys, Primary, range } from './primary.js';

let dir: string;
let primary: Primary | undefined;
beforeEach(() => {
  dir = tempDir('ats-seq-');
});
afterEach(() => {
  primary?.close();
  primary = undefined;
  removeDir(dir);
});

/** A primary in `dir`, closed after the test. */
function open(options?: ConstructorParameters<typeof Primary>[1]): Primary {
  primary = new Primary(dir, options);
  return primary;
}

function remote(): string {
  return path.join(dir, 'remote');
}

async function restore(
  p: Primary,
  target: { atMs?: number; position?: { lineage: string; txid: bigint } } = {},
): Promise<string> {
  const out = path.join(dir, `restored-${Math.random().toString(36).slice(2)}.db`);
  await restoreContinuous({ store: p.store, database: out, verify: 'quick', ...target });
  return out;
}

function walPosition(file: string) {
  const fd = fs.openSync(`${file}-wal`, 'r');
  try {
    const scan = scanWal(fd, undefined);
    if (scan.kind !== 'continues') throw new Error(`no WAL: ${scan.kind}`);
    return scan.end;
  } finally {
    fs.closeSync(fd);
  }
}

describe('1. a commit between shipping and the checkpoint that restarts the WAL', () => {
  it('negative control: that sequence overwrites the commit frames, so only a seal can save them', () => {
    const db = new Database(path.join(dir, 'plain.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const shipped = walPosition(path.join(dir, 'plain.db')); // "the tail is shipped"
    db.exec("INSERT INTO t (body) VALUES ('lands after the ship')"); // the commit that lands
    db.pragma('wal_checkpoint(RESTART)'); // backfills it, the WAL restarts
    db.exec("INSERT INTO t (body) VALUES ('next')"); // overwrites frame 1..
    const fd = fs.openSync(path.join(dir, 'plain.db-wal'), 'r');
    const scan = scanWal(fd, shipped);
    fs.closeSync(fd);
    expect(scan.kind).toBe('moved'); // the commit's frames are gone from the WAL
    db.close();
  });

  it('with the seal, the commit is shipped: the restore has it', async () => {
    const p = open();
    await p.shipper.start();
    p.write(3);
    await p.shipper.sync(); // the tail is shipped
    p.write(1); // a commit lands
    const r = p.restart(); // seal, then RESTART: the next commit restarts the log
    expect(r.busy).toBe(0);
    p.write(2); // the WAL restarts, overwriting the frames of the commit
    expect(walPosition(p.file).frame).toBeLessThan(5);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 6));
  });

  it('a checkpoint from elsewhere cannot restart the WAL under the pin: frames stay until sealed', async () => {
    const p = open();
    await p.shipper.start();
    p.write(2);
    const other = new Database(p.file, { timeout: 0 });
    const r = (other.pragma('wal_checkpoint(RESTART)') as { busy: number }[])[0];
    other.close();
    expect(r?.busy).toBe(1); // the pin holds a read mark: no restart
    p.write(2);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 4));
  });

  it('many restarts in a row, each after a commit that was not shipped yet: every row in every position', async () => {
    const p = open();
    await p.shipper.start();
    for (let i = 0; i < 15; i++) {
      p.write(2);
      if (i % 3 === 0) await p.shipper.sync();
      p.write(1);
      if (i % 2 === 0) p.restart(i % 4 === 0 ? 'TRUNCATE' : 'RESTART');
      else p.checkpoint();
    }
    await p.shipper.sync();
    const lineage = p.shipper.position?.lineage as string;
    expect(idsIn(await restore(p))).toEqual(range(1, 45));
    for (const txid of [2n, 10n, 21n, 31n]) {
      const out = await restore(p, { position: { lineage, txid } });
      expect(idsIn(out)).toHaveLength(
        txid % 2n === 0n ? Number(((txid - 1n) / 2n) * 3n + 2n) : Number(((txid - 1n) / 2n) * 3n),
      );
    }
    expect(p.log.lines.filter((l) => l.event === 'continuous_lineage')).toHaveLength(1); // no doubt, one lineage
  });
});

describe('2. something else checkpoints while the shipper is down', () => {
  it('the shipper sees the WAL moved and starts a new lineage with a snapshot: nothing is missing', async () => {
    const p = open();
    await p.shipper.start();
    p.write(5);
    await p.shipper.sync();
    p.shipper.abandon(); // the service dies
    p.write(3); // acknowledged, never shipped
    const other = new Database(p.file);
    other.pragma('wal_checkpoint(TRUNCATE)'); // e.g. the sqlite3 shell
    other.close();
    p.write(2);
    await p.restartShipper().start();
    expect(p.log.lines.filter((l) => l.event === 'continuous_lineage')).toHaveLength(2);
    const why = p.log.lines.filter((l) => l.event === 'continuous_lineage').at(-1)?.reason ?? '';
    expect(why).toMatch(/checksum/);
    p.write(1);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 11));
  });

  it('a clean restart with nothing changed resumes the lineage (no new snapshot)', async () => {
    const p = open();
    await p.shipper.start();
    p.write(5);
    await p.shipper.stop();
    p.passive();
    const other = new Database(p.file);
    other.pragma('wal_checkpoint(TRUNCATE)');
    other.close();
    const puts = p.folder.requests.put;
    await p.restartShipper().start();
    expect(p.folder.requests.put).toBe(puts);
    expect(p.log.lines.filter((l) => l.event === 'continuous_resume')).toHaveLength(1);
    p.write(2);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 7));
  });

  it('a crash with unshipped commits in the same WAL generation resumes and ships them', async () => {
    const p = open();
    await p.shipper.start();
    p.write(5);
    await p.shipper.sync();
    p.shipper.abandon();
    p.write(4); // in the WAL, not shipped
    await p.restartShipper().start();
    expect(p.log.lines.filter((l) => l.event === 'continuous_resume')).toHaveLength(1);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 9));
  });
});

describe('2b. a crash right after a WAL restart the seal allowed', () => {
  it('resumes from the file (proved by its checksum) and ships the whole new generation', async () => {
    const p = open();
    await p.shipper.start();
    p.write(3);
    await p.shipper.sync();
    expect(p.checkpoint()?.checkpointed).toBeGreaterThan(0); // all copied up to the pin
    expect(p.checkpoint()).toBeUndefined(); // pinned on mark 0 now: the step is skipped
    p.write(2); // restarts the log over frames already shipped
    p.shipper.abandon(); // crash before the new generation is read
    await p.restartShipper().start();
    expect(p.log.lines.filter((l) => l.event === 'continuous_lineage')).toHaveLength(1);
    expect(p.log.lines.filter((l) => l.event === 'continuous_resume')).toHaveLength(1);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 5));
  });
});

describe('3. the WAL restarted and later commits overwrote old frames in place, same size and header', () => {
  it('the shipper does not mistake the new frames for the old ones', async () => {
    const p = open();
    await p.shipper.start();
    p.write(1, 10);
    p.write(1, 10);
    await p.shipper.sync();
    const sizeBefore = fs.statSync(`${p.file}-wal`).size;
    p.shipper.abandon();
    const other = new Database(p.file);
    other.pragma('wal_checkpoint(RESTART)');
    other.close();
    p.write(1, 10); // same shapes of transactions: the WAL has the same size as before
    p.write(1, 10);
    expect(fs.statSync(`${p.file}-wal`).size).toBe(sizeBefore);
    await p.restartShipper().start();
    p.write(1);
    await p.shipper.sync();
    expect(idsIn(await restore(p))).toEqual(range(1, 5));
  });
});

describe('4. a snapshot taken during writes and checkpoints', () => {
  it('holds exactly the pages of its position: its restore proves the checksum', async () => {
    const p = open({ snapshotIntervalMs: 1 });
    p.write(40_000, 400); // ~20 MB: the snapshot yields to the event loop many times
    await p.shipper.start();
    let writing = true;
    let written = 0;
    const busy = (async () => {
      while (writing) {
        p.write(5);
        written += 5;
        p.checkpoint();
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await p.shipper.sync(); // a periodic snapshot (interval 1 ms) while the loop writes and checkpoints
    writing = false;
    await busy;
    expect(written).toBeGreaterThan(0);
    await p.shipper.sync();
    const snaps = objectKeys(remote()).filter((k) => k.endsWith('.snap'));
    expect(snaps.length).toBeGreaterThanOrEqual(2);
    const lineage = p.shipper.position?.lineage as string;
    const txid = BigInt(`0x${path.basename(snaps.at(-1) as string, '.snap')}`);
    // The restore to the newest snapshot's txid starts from that snapshot and checks its checksum.
    const out = await restore(p, { position: { lineage, txid } });
    expect(idsIn(out).length).toBeGreaterThanOrEqual(40_000);
    expect(idsIn(await restore(p))).toEqual(range(1, 40_000 + written));
  });
});

describe('5. writes after a restore', () => {
  it('a database restored to an older point starts a new lineage; no object of the old one is touched', async () => {
    const p = open();
    await p.shipper.start();
    p.write(3);
    await p.shipper.sync();
    p.write(3);
    await p.shipper.sync();
    const lineage = p.shipper.position?.lineage as string;
    await p.shipper.stop();
    p.close();
    primary = undefined;
    const before = new Map(objectKeys(remote()).map((k) => [k, fs.readFileSync(path.join(remote(), k))]));
    // disk loss: the primary comes back from the backup, at txid 2 (3 rows)
    const older = path.join(dir, 'primary.db');
    for (const f of fs.readdirSync(dir))
      if (f.startsWith('primary.db')) fs.rmSync(path.join(dir, f), { force: true });
    await restoreContinuous({
      store: new FolderStore(remote()),
      database: older,
      verify: 'quick',
      position: { lineage, txid: 2n },
    });
    const q = open();
    expect(q.ids()).toEqual(range(1, 3));
    await q.shipper.start();
    expect(q.shipper.position?.lineage).not.toBe(lineage);
    q.write(2); // ids 4 and 5: the restored database goes on from its own rows
    await q.shipper.sync();
    for (const [k, bytes] of before) expect(fs.readFileSync(path.join(remote(), k)).equals(bytes)).toBe(true);
    expect(idsIn(await restore(q))).toEqual(range(1, 5));
    // the old lineage still restores the old history
    expect(idsIn(await restore(q, { position: { lineage, txid: 3n } }))).toEqual(range(1, 6));
  });
});

describe('8. shrinking and growing databases', () => {
  it('pages above a smaller size never come back; every page of a larger one is there', async () => {
    const p = open({ autoVacuum: true });
    p.db.exec('VACUUM'); // auto_vacuum takes effect
    await p.shipper.start();
    p.write(2000, 500); // grows
    await p.shipper.sync();
    p.db.exec('DELETE FROM t WHERE id > 100');
    p.db.exec('PRAGMA incremental_vacuum'); // shrinks
    await p.shipper.sync();
    p.checkpoint();
    p.write(500, 500); // grows again
    await p.shipper.sync();
    const lineage = p.shipper.position?.lineage as string;
    const shrunk = await restore(p, { position: { lineage, txid: 4n } });
    expect(idsIn(shrunk)).toEqual(range(1, 100));
    const grown = await restore(p);
    expect(idsIn(grown)).toEqual([...range(1, 100), ...range(2001, 2500)]);
  });
});

describe('9. truncated, empty or altered objects', () => {
  async function shipped(): Promise<{ p: Primary; seg: string }> {
    const p = open();
    await p.shipper.start();
    p.write(3);
    await p.shipper.sync();
    p.write(3);
    await p.shipper.sync();
    const seg = objectKeys(remote()).filter((k) => k.endsWith('.seg'))[0] as string;
    return { p, seg };
  }

  it('a truncated segment is refused, naming it, and the database is not touched', async () => {
    const { p, seg } = await shipped();
    const file = path.join(remote(), seg);
    fs.truncateSync(file, fs.statSync(file).size - 100);
    const target = path.join(dir, 'target.db');
    fs.writeFileSync(target, 'not touched');
    const err = await rejection(
      restoreContinuous({ store: p.store, database: target, verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_FORMAT',
    );
    expect(err.message).toContain(path.basename(seg).slice(0, 10));
    expect(fs.readFileSync(target, 'utf8')).toBe('not touched');
  });

  it('a zero-length object is refused', async () => {
    const { p, seg } = await shipped();
    fs.writeFileSync(path.join(remote(), seg), '');
    const err = await rejection(
      restoreContinuous({ store: p.store, database: path.join(dir, 'x.db'), verify: 'quick' }),
      BackupError,
    );
    expect(err.code).toBe('ATS_BACKUP_FORMAT');
  });

  it('one flipped byte is an ECHECKSUM', async () => {
    const { p, seg } = await shipped();
    const file = path.join(remote(), seg);
    const bytes = fs.readFileSync(file);
    bytes[300] = (bytes[300] ?? 0) ^ 0xff;
    fs.writeFileSync(file, bytes);
    await rejection(
      restoreContinuous({ store: p.store, database: path.join(dir, 'x.db'), verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_CHECKSUM',
    );
  });

  it('a well-formed object with a wrong page is caught by the rolling checksum (negative control of the proof)', async () => {
    const { p, seg } = await shipped();
    const file = path.join(remote(), seg);
    const forged = `${file}.forged`;
    const header = checkObject(file);
    const w = new ObjectWriter(forged, header.pageSize);
    readObject(
      file,
      (r) => {
        w.record(r);
        return true;
      },
      (pgno, page) => {
        const copy = Buffer.from(page);
        copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1;
        w.page(pgno, copy);
      },
    );
    w.finish(header);
    fs.renameSync(forged, file);
    const lineage = p.shipper.position?.lineage as string;
    const err = await rejection(
      restoreContinuous({
        store: p.store,
        database: path.join(dir, 'x.db'),
        verify: 'quick',
        position: { lineage, txid: header.maxTxid },
      }),
      BackupError,
      'ATS_BACKUP_CHECKSUM',
    );
    expect(err.message).toMatch(/rebuilt database's checksum/);
  });

  it('a missing segment is an EGAP naming the missing transactions', async () => {
    const p = open();
    await p.shipper.start();
    for (let i = 0; i < 3; i++) {
      p.write(2);
      await p.shipper.sync();
    }
    const segs = objectKeys(remote()).filter((k) => k.endsWith('.seg'));
    fs.rmSync(path.join(remote(), segs[1] as string));
    const err = await rejection(
      restoreContinuous({ store: p.store, database: path.join(dir, 'x.db'), verify: 'quick' }),
      BackupError,
      'ATS_BACKUP_GAP',
    );
    expect(err.message).toContain('misses transactions 3..3');
  });
});
