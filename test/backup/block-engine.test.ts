import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { keptDescriptorCount } from '../../dist/backup/block-copy/shm-registry.js';
import { BackupError, runBackup } from '../../dist/backup/index.js';
import { copySnapshot } from '../../dist/backup/snapshot-copy.js';
import { countRows, integrity, makeDatabase, ROOT, rejection, removeDir, tempDir } from '../helpers.js';

let dir: string;
const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  removeDir(dir);
});

/** A WAL database whose newest rows are still only in the WAL (no checkpoint since). */
function walDatabase(): string {
  dir = tempDir();
  const db = path.join(dir, 'a.db');
  makeDatabase(db, 4);
  const conn = new Database(db);
  conn.pragma('wal_autocheckpoint = 0');
  const insert = conn.prepare('INSERT INTO t (body) VALUES (?)');
  for (let i = 0; i < 200; i++) insert.run(`in the wal ${i}`);
  open.push(conn); // stays open: the WAL and -shm stay as they are
  return db;
}

/** `PRAGMA wal_checkpoint(TRUNCATE)` from another process, never waiting: [busy, log, checkpointed]. */
function truncateFromAnotherProcess(db: string): number[] {
  const script = `const D = require(${JSON.stringify(path.join(ROOT, 'node_modules/better-sqlite3'))});
    const c = new D(process.argv[1], { timeout: 0 });
    process.stdout.write(JSON.stringify(Object.values(c.pragma('wal_checkpoint(TRUNCATE)')[0])));
    c.close();`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script, db], { encoding: 'utf8' })) as number[];
}

/** Descriptors of this process open on `file` (read from /proc without opening anything). */
function descriptorsOn(file: string): number {
  return fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;
}

describe('descriptor discipline: a backup in a process that has SQLite connections leaves their locks intact', () => {
  // The shape of `ats serve`: the store's connection on the main thread, the backup copying in a
  // worker thread of the same process. A reader held by this process must keep blocking another
  // process's TRUNCATE checkpoint before and after block-engine backups.
  it('a held reader keeps blocking wal_checkpoint(TRUNCATE) across backups; one kept descriptor per -shm', async () => {
    const db = walDatabase();
    const reader = new Database(db, { readonly: true });
    open.push(reader);
    reader.exec('BEGIN');
    const seen = (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
    expect(truncateFromAnotherProcess(db)[0]).toBe(1); // busy: the reader holds its read mark

    const kept = keptDescriptorCount();
    for (let i = 0; i < 3; i++) {
      const result = await runBackup({ source: db, engine: 'block', verify: 'full' });
      expect(result.engine).toBe('block');
      // The TRUNCATE above backfilled every frame up to the reader's snapshot (it could not reset
      // the WAL): the file alone is the snapshot, and the rows still in the WAL are in the file.
      expect(result.block).toMatchObject({ fileAlone: true, overlayPages: 0 });
      expect(result.block?.walFrames).toBeGreaterThan(0);
      expect(countRows(result.file)).toBe(countRows(db));
      expect(truncateFromAnotherProcess(db)[0]).toBe(1);
    }
    expect(keptDescriptorCount() - kept).toBeLessThanOrEqual(1); // opened once, however many backups
    // SQLite's own descriptor and the one kept for backups; none opened and closed per backup.
    expect(descriptorsOn(`${db}-shm`)).toBeLessThanOrEqual(2);
    expect((reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(seen);
    reader.exec('COMMIT');
  });

  it('negative control: closing a descriptor on -shm in this process (what rule 2 forbids) lets the TRUNCATE through', () => {
    const db = walDatabase();
    const reader = new Database(db, { readonly: true });
    open.push(reader);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) AS n FROM t').get();
    expect(truncateFromAnotherProcess(db)[0]).toBe(1);
    fs.readFileSync(`${db}-shm`); // opens and closes: the process's locks on -shm are gone
    expect(truncateFromAnotherProcess(db)[0]).toBe(0); // the check above would catch a leak
    reader.exec('ROLLBACK');
  });
});

describe('fallback, never failure', () => {
  const hooks = { cancelled: () => false, progress: () => {} };
  const request = (db: string, engine: 'auto' | 'block', maxOverlayBytes?: number) => ({
    source: db,
    tmp: path.join(dir, `copy-${engine}.db`),
    mode: 0o600,
    verify: 'full' as const,
    busyTimeoutMs: 1000,
    maxReadLockMs: 4000,
    stepPages: 0,
    engine,
    ...(maxOverlayBytes === undefined ? {} : { maxOverlayBytes }),
  });

  it('WAL pages past the memory budget are written from the WAL while the snapshot is held: still the block engine', async () => {
    const db = walDatabase();
    const result = await copySnapshot(request(db, 'auto', 4096), hooks); // one page kept in memory
    expect(result.engine).toBe('block');
    expect(result.fallbackReason).toBeUndefined();
    expect(result.block?.streamedPages).toBeGreaterThan(0);
    expect(result.block?.overlayPages).toBe((result.block?.streamedPages ?? 0) + 1);
    expect(result.verify.ok).toBe(true);
    expect(integrity(path.join(dir, 'copy-auto.db'))).toBe('ok');
    expect(countRows(path.join(dir, 'copy-auto.db'))).toBe(countRows(db));
  });

  it('a precondition that fails (no readable -shm): "auto" falls back to the backup API and says why', async () => {
    const db = walDatabase();
    const result = await copySnapshot(request(db, 'auto'), { ...hooks, descriptors: () => undefined });
    expect(result.engine).toBe('backup-api');
    expect(result.fallbackReason).toMatch(/no readable .*a\.db-shm/);
    expect(countRows(path.join(dir, 'copy-auto.db'))).toBe(countRows(db));
  });

  it('engine "block" refuses instead, naming the precondition', async () => {
    const db = walDatabase();
    const err = await rejection(
      copySnapshot(request(db, 'block'), { ...hooks, descriptors: () => undefined }),
      BackupError,
      'ATS_BACKUP_COPY',
    );
    expect(err.message).toMatch(
      /^block copy .*a\.db: no readable .*a\.db-shm .*\(engine "auto" would use the backup API\)$/,
    );
  });

  it('engine "backup-api" never tries the block copy', async () => {
    const db = walDatabase();
    const result = await runBackup({ source: db, engine: 'backup-api' });
    expect(result).toMatchObject({ engine: 'backup-api', fallbackReason: undefined, block: undefined });
    expect(countRows(result.file)).toBe(countRows(db));
  });

  it('a rollback-journal source is bulk-copied under its SHARED lock (no overlay)', async () => {
    dir = tempDir();
    const db = path.join(dir, 'rj.db');
    makeDatabase(db, 2, 'delete');
    const result = await runBackup({ source: db, engine: 'block', verify: 'full' });
    expect(result).toMatchObject({ engine: 'block', journalMode: 'delete' });
    expect(result.block).toMatchObject({ walFrames: 0, overlayPages: 0 });
    expect(result.holdMs).toBeLessThanOrEqual(result.copyMs);
    expect(countRows(result.file)).toBe(countRows(db));
    expect(result.warnings).toEqual([expect.stringMatching(/blocked writers for \d+ ms/)]);
  });
});
