import fs from 'node:fs';
import path from 'node:path';
import { BackupError, reasonOf } from '../errors.js';
import { type RestoreResult, restoreBackup } from '../restore.js';
import { verifyDatabase } from '../verify.js';
import type { ObjectStore } from './destination.js';
import { LINEAGES } from './object-names.js';
import { formatChecksum, pageChecksum } from './page-checksum.js';
import { planRestore, type RestorePlan, type RestoreTarget } from './restore-plan.js';
import { type ObjectHeader, readObject } from './segment-format.js';
import { takeStoreLease } from './store-lease.js';

/** Options of {@link restoreContinuous}. */
export interface ContinuousRestoreOptions extends RestoreTarget {
  readonly store: ObjectStore;
  /** The database file to replace (it may not exist). */
  readonly database: string;
  /** The check `restoreBackup` runs on the install copy (integrity_check always runs on the rebuilt file). */
  readonly verify: 'quick' | 'full';
  readonly onProgress?: (objectsDone: number, objectsTotal: number) => void;
}

/** What a point-in-time restore did. */
export interface ContinuousRestoreResult extends RestoreResult {
  readonly lineage: string;
  /** The last transaction applied, when it was seen committed, and the checksum proven at it. */
  readonly txid: bigint;
  readonly timeMs: number;
  readonly checksum: string;
  readonly objects: number;
}

/**
 * Restores a database from a continuous backup: plans snapshot + contiguous segments to the
 * target (`planRestore`), rebuilds the file in `<db>.pitr.tmp` one object at a time (each object's
 * SHA-256 checked before any of it is applied; each segment must start from the checksum the one
 * before it ended with), compares the rolling checksum of the rebuilt file with the one the
 * primary recorded at the target, runs integrity_check, then installs it with the safe path of
 * `restoreBackup` (the replaced database is kept). Memory does not grow with the database.
 */
export async function restoreContinuous(opts: ContinuousRestoreOptions): Promise<ContinuousRestoreResult> {
  const database = path.resolve(opts.database);
  const tmp = `${database}.pitr.tmp`;
  const download = `${database}.pitr-object.tmp`;
  fs.mkdirSync(path.dirname(database), { recursive: true });
  fs.rmSync(tmp, { force: true });
  fs.rmSync(download, { force: true });
  const { plan, release } = await planAndLease(opts.store, opts, `${database}.pitr-lease.tmp`);
  try {
    const applied = await rebuild(opts.store, plan, tmp, download, opts.onProgress);
    const result = await restoreBackup({ from: tmp, database, verify: opts.verify });
    return Object.freeze({
      ...result,
      from: `${opts.store.url} (lineage ${plan.lineage}, txid ${applied.txid})`,
      lineage: plan.lineage,
      txid: applied.txid,
      timeMs: applied.timeMs,
      checksum: formatChecksum(applied.checksum),
      objects: 1 + plan.segments.length,
    });
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(download, { force: true });
    await release().catch(() => undefined); // an unreleased lease expires (LEASE_MS)
  }
}

/** Plans times to take a lease on the plan before retention could have removed part of it. */
const PLAN_TRIES = 3;

/**
 * Plans the restore and leases what it reads, so retention leaves it alone while it runs
 * (design note, sequence 6). Retention that ran between the plan and the lease may have removed
 * part of the plan: listed again under the lease (objects are immutable, so a key still there is
 * the object planned), a plan with a key gone is made again and leased anew. Returns the plan and
 * the lease's release.
 */
async function planAndLease(
  store: ObjectStore,
  target: RestoreTarget,
  scratch: string,
): Promise<{ plan: RestorePlan; release: () => Promise<void> }> {
  for (let i = 0; i < PLAN_TRIES; i++) {
    const plan = await planRestore(store, target);
    const holds = [plan.snapshot.key, ...plan.segments.map((s) => s.key)];
    const release = await takeStoreLease(store, holds, scratch);
    try {
      const there = new Set(await store.list(LINEAGES));
      if (holds.every((key) => there.has(key))) return { plan, release };
    } catch (err) {
      await release().catch(() => undefined);
      throw err;
    }
    await release().catch(() => undefined);
  }
  throw new BackupError(
    'ATS_BACKUP_BUSY',
    'plan restore',
    store.url,
    `the objects planned were removed ${PLAN_TRIES} times before the restore could lease them (retention running?): try again`,
  );
}

interface Applied {
  txid: bigint;
  timeMs: number;
  checksum: bigint;
}

/** Writes the plan's pages into `tmp`, checks the result; returns where it ended. */
export async function rebuild(
  store: ObjectStore,
  plan: RestorePlan,
  tmp: string,
  download: string,
  onProgress?: (done: number, total: number) => void,
): Promise<Applied> {
  const fd = fs.openSync(tmp, 'wx', 0o644);
  const snap = plan.snapshot.header;
  const pageSize = snap.pageSize;
  let pages = snap.commitPages;
  const applied: Applied = { txid: snap.maxTxid, timeMs: snap.maxTimeMs, checksum: snap.postChecksum };
  const total = 1 + plan.segments.length;
  try {
    const write = (pgno: number, page: Buffer, limit: number): void => {
      if (pgno < 1 || pgno > limit) return; // above the commit's size: not part of the database
      if (page.length !== pageSize) throw new Error(`page ${pgno} has ${page.length} bytes`);
      fs.writeSync(fd, page, 0, pageSize, (pgno - 1) * pageSize);
    };
    await fetchChecked(store, plan.snapshot.key, download, (file) =>
      check(
        plan,
        readObject(
          file,
          () => undefined,
          (pgno, page) => write(pgno, page, snap.commitPages),
        ),
        plan.snapshot.key,
      ),
    );
    onProgress?.(1, total);
    let prev: ObjectHeader = snap;
    let done = 1;
    let stop = false;
    for (const seg of plan.segments) {
      if (seg.header.minTxid === prev.maxTxid + 1n && seg.header.preChecksum !== prev.postChecksum)
        throw new BackupError(
          'ATS_BACKUP_CHECKSUM',
          'restore',
          `${store.url}/${seg.key}`,
          `the segment starts from checksum ${formatChecksum(seg.header.preChecksum)}, but the chain before it ends at ${formatChecksum(prev.postChecksum)}`,
        );
      await fetchChecked(store, seg.key, download, (file) => {
        let take = false;
        let limit = pages;
        const header = readObject(
          file,
          (r) => {
            take = !stop && r.txid === applied.txid + 1n && r.txid <= plan.targetTxid;
            if (take && plan.atMs !== undefined && r.timeMs > plan.atMs) take = false;
            if (!take) {
              if (r.txid > applied.txid) stop = true;
              return false;
            }
            // Pages above the new size never come back; the file shrinks with the database.
            if (r.commitPages < pages) fs.ftruncateSync(fd, r.commitPages * pageSize);
            pages = r.commitPages;
            limit = r.commitPages;
            applied.txid = r.txid;
            applied.timeMs = r.timeMs;
            applied.checksum = r.postChecksum;
            return true;
          },
          (pgno, page) => write(pgno, page, limit),
        );
        check(plan, header, seg.key);
        prev = header;
      });
      onProgress?.(++done, total);
      if (stop) break;
    }
    fs.ftruncateSync(fd, pages * pageSize);
    // A self-contained rollback-journal file, like every ats backup (the checksum leaves these out).
    fs.writeSync(fd, Buffer.from([1, 1]), 0, 2, 18);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof BackupError
      ? err
      : new BackupError('ATS_BACKUP_COPY', 'restore', tmp, reasonOf(err), { cause: err });
  }
  fs.closeSync(fd);
  const sum = fileChecksum(tmp, pageSize);
  if (sum !== applied.checksum)
    throw new BackupError(
      'ATS_BACKUP_CHECKSUM',
      'restore',
      tmp,
      `the rebuilt database's checksum ${formatChecksum(sum)} is not the primary's ${formatChecksum(applied.checksum)} at txid ${applied.txid}: nothing was changed`,
    );
  const checked = verifyDatabase(tmp, 'full');
  if (!checked.ok)
    throw new BackupError(
      'ATS_BACKUP_VERIFY',
      'restore',
      tmp,
      `the rebuilt database fails integrity_check (${checked.problems.slice(0, 2).join('; ')}): nothing was changed`,
    );
  return applied;
}

function check(plan: RestorePlan, header: ObjectHeader, key: string): void {
  if (header.lineage !== plan.lineage || header.pageSize !== plan.snapshot.header.pageSize)
    throw new BackupError(
      'ATS_BACKUP_FORMAT',
      'restore',
      key,
      `object of lineage ${header.lineage} (page size ${header.pageSize}) in lineage ${plan.lineage}`,
    );
}

async function fetchChecked(
  store: ObjectStore,
  key: string,
  file: string,
  use: (file: string) => void,
): Promise<void> {
  fs.rmSync(file, { force: true });
  await store.get(key, file);
  try {
    use(file);
  } catch (err) {
    // Name the object, not the temporary file it was read into.
    if (err instanceof BackupError && err.path === file)
      throw new BackupError(err.code, err.operation, `${store.url}/${key}`, err.reason, { cause: err });
    throw err;
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** The rolling checksum of a database file, read 1 MiB at a time. */
export function fileChecksum(file: string, pageSize: number): bigint {
  const fd = fs.openSync(file, 'r');
  try {
    const per = Math.max(1, Math.floor((1 << 20) / pageSize));
    const buf = Buffer.alloc(per * pageSize);
    let total = 0n;
    for (let pgno = 1; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, (pgno - 1) * pageSize);
      const count = Math.floor(n / pageSize);
      for (let i = 0; i < count; i++, pgno++)
        total ^= pageChecksum(pgno, buf.subarray(i * pageSize, (i + 1) * pageSize));
      if (n < buf.length) break;
    }
    return total;
  } finally {
    fs.closeSync(fd);
  }
}
