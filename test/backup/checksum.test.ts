import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { findRecord, runBackup } from '../../dist/backup/index.js';
import { countRows, makeDatabase, removeDir, tempDir } from '../helpers.js';

// The catalogue's sha256 is computed inside the copy (read back from the finished file while it is
// fsynced), no longer by a second pass over the verified backup. These tests check it against an
// independent hash of the backup as it lies on disk, in the cases where the engine changes the
// copy after its bulk of bytes is written: the WAL overlay, the cut to the snapshot's size, and
// the page-1 header bytes that mark it self-contained.

let dir: string;
const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  removeDir(dir);
});

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** A WAL database whose newest changes are only in the WAL, kept there by an open connection. */
function walDatabase(shrink: boolean): string {
  dir = tempDir();
  const db = path.join(dir, 'a.db');
  const setup = new Database(db);
  setup.pragma('auto_vacuum = FULL'); // a DELETE shrinks the database: its WAL then ends short of the file
  setup.close();
  makeDatabase(db, 2);
  const conn = new Database(db);
  conn.pragma('wal_autocheckpoint = 0');
  if (shrink)
    conn.exec(
      "DELETE FROM t WHERE id % 3 = 0 OR id > 2000; UPDATE t SET body = 'changed ' || id WHERE id < 50",
    );
  else {
    const insert = conn.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run(`in the wal ${i}`);
  }
  open.push(conn); // stays open: the WAL and -shm stay as they are
  return db;
}

function expectRecordedChecksumIsTheFiles(result: Awaited<ReturnType<typeof runBackup>>): void {
  const onDisk = sha256(result.file);
  expect(result.checksum).toBe(onDisk);
  expect(result.record.checksum).toBe(onDisk);
  expect(findRecord(result.file.replace(/\.bak1$/, ''), result.file)?.checksum).toBe(onDisk);
  const header = Buffer.alloc(20);
  const fd = fs.openSync(result.file, 'r');
  fs.readSync(fd, header, 0, 20, 0);
  fs.closeSync(fd);
  expect([header[18], header[19]]).toEqual([1, 1]); // the self-contained mark is inside what was hashed
}

describe('the catalogue checksum is computed in the copy, of the exact final bytes', () => {
  it('block engine, WAL overlay: the recorded sha256 is that of the backup file', async () => {
    const db = walDatabase(false);
    const result = await runBackup({ source: db, engine: 'block' });
    expect(result.engine).toBe('block');
    expect(result.block?.overlayPages).toBeGreaterThan(0);
    expect(countRows(result.file)).toBe(countRows(db));
    expectRecordedChecksumIsTheFiles(result);
  });

  it('block engine, a snapshot smaller than the file (overlay, then the cut to its size): same', async () => {
    const db = walDatabase(true);
    const result = await runBackup({ source: db, engine: 'block' });
    expect(result.engine).toBe('block');
    expect(result.bytes).toBeLessThan(fs.statSync(db).size); // the copy was cut after the bulk copy
    expect(countRows(result.file)).toBe(countRows(db));
    expectRecordedChecksumIsTheFiles(result);
  });

  it('backup-API engine and a rollback-journal source: same', async () => {
    const db = walDatabase(false);
    expectRecordedChecksumIsTheFiles(await runBackup({ source: db, engine: 'backup-api' }));
    const plain = path.join(dir, 'b.db');
    makeDatabase(plain, 1, 'delete');
    const result = await runBackup({ source: plain, engine: 'block' });
    expect(result.engine).toBe('block');
    expectRecordedChecksumIsTheFiles(result);
  });
});
