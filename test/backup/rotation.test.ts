import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupError, runBackup } from '../../dist/backup/index.js';
import {
  corruptIndexPage,
  countRows,
  integrity,
  listDir,
  makeDatabase,
  rejection,
  tempDir,
} from '../helpers.js';

let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function addRows(file: string, n: number): void {
  const db = new Database(file);
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`added ${i}`);
  })();
  db.close();
}

describe('rotation', () => {
  it('keeps the newest as .bak1 and the previous as .bak2, dropping older ones', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.2);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      addRows(db, 10);
      counts.push(countRows(db));
      const result = await runBackup({ source: db });
      expect(result.file).toBe(`${db}.bak1`);
      expect(result.verify).toMatchObject({ mode: 'quick', ok: true });
    }
    expect(countRows(`${db}.bak1`)).toBe(counts[2]);
    expect(countRows(`${db}.bak2`)).toBe(counts[1]);
    expect(fs.existsSync(`${db}.bak3`)).toBe(false);
    expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('keeps as many generations as asked, and prunes extras once keep is lowered', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.1);
    for (let i = 0; i < 4; i++) {
      addRows(db, 1);
      await runBackup({ source: db, keep: 4 });
    }
    expect(listDir(dir).filter((f) => /\.bak\d$/.test(f))).toEqual([
      'a.db.bak1',
      'a.db.bak2',
      'a.db.bak3',
      'a.db.bak4',
    ]);
    const before = countRows(`${db}.bak1`);
    addRows(db, 1);
    await runBackup({ source: db, keep: 2 });
    expect(listDir(dir).filter((f) => /\.bak\d$/.test(f))).toEqual(['a.db.bak1', 'a.db.bak2']);
    expect(countRows(`${db}.bak2`)).toBe(before);
  });

  it('writes self-contained rollback-journal files that are never more readable than the source', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.1);
    fs.chmodSync(db, 0o600);
    const result = await runBackup({ source: db });
    expect(fs.statSync(result.file).mode & 0o777).toBe(0o600);
    const copy = new Database(result.file, { readonly: true });
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    copy.close();
    expect(fs.existsSync(`${result.file}-wal`)).toBe(false);
    expect(fs.existsSync(`${result.file}-shm`)).toBe(false);
  });

  it('writes into another folder with --out semantics (target base path)', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    fs.mkdirSync(path.join(dir, 'backups'));
    makeDatabase(db, 0.1);
    const result = await runBackup({ source: db, target: path.join(dir, 'backups', 'nightly') });
    expect(result.file).toBe(path.join(dir, 'backups', 'nightly.bak1'));
    expect(integrity(result.file)).toBe('ok');
  });

  it('does not rotate a copy that fails verification', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 1, 'delete');
    await runBackup({ source: db });
    await runBackup({ source: db });
    const good = [fs.readFileSync(`${db}.bak1`), fs.readFileSync(`${db}.bak2`)];
    corruptIndexPage(db);
    const err = await rejection(runBackup({ source: db }), BackupError, 'ATS_BACKUP_VERIFY');
    expect(err.message).toMatch(/quick check failed/);
    expect(fs.readFileSync(`${db}.bak1`).equals(good[0]!)).toBe(true);
    expect(fs.readFileSync(`${db}.bak2`).equals(good[1]!)).toBe(true);
    expect(listDir(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('lets only one backup of a target run at a time', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 5);
    const results = await Promise.allSettled([runBackup({ source: db }), runBackup({ source: db })]);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(((rejected[0] as PromiseRejectedResult).reason as BackupError).code).toBe('ATS_BACKUP_LOCKED');
    expect(integrity(`${db}.bak1`)).toBe('ok');
  });
});
