// restoreBackup() itself: SQLite's own locks refuse it while another connection has the database,
// even one in this very process (which /proc cannot show), and nothing is changed.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupError, restoreBackup, runBackup } from '../../dist/backup/index.js';
import { countRows, makeDatabase, rejection, removeDir, tempDir } from '../helpers.js';

let dir: string;
afterEach(() => removeDir(dir));

async function setUp(mode: 'wal' | 'delete'): Promise<string> {
  dir = tempDir();
  const db = path.join(dir, 'a.db');
  makeDatabase(db, 0.2, mode);
  await runBackup({ source: db });
  return db;
}

describe('restoreBackup refuses while another connection holds the database', () => {
  it('an idle WAL connection in this process: ATS_BACKUP_IN_USE, still in WAL mode, every row there', async () => {
    const db = await setUp('wal');
    const other = new Database(db);
    other.prepare('INSERT INTO t (body) VALUES (?)').run('after the backup');
    const rows = countRows(db);
    try {
      const err = await rejection(
        restoreBackup({ from: `${db}.bak1`, database: db, verify: 'quick' }),
        BackupError,
        'ATS_BACKUP_IN_USE',
      );
      expect(err.message).toMatch(/is open by another connection/);
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(countRows(db)).toBe(rows);
    } finally {
      other.close();
    }
    expect(fs.readdirSync(dir).filter((f) => f.includes('restore'))).toEqual([]);
  });

  it('a rollback-journal connection reading in a transaction: ATS_BACKUP_IN_USE', async () => {
    const db = await setUp('delete');
    const other = new Database(db);
    other.exec('BEGIN');
    other.prepare('SELECT count(*) FROM t').get();
    try {
      await rejection(
        restoreBackup({ from: `${db}.bak1`, database: db, verify: 'quick' }),
        BackupError,
        'ATS_BACKUP_IN_USE',
      );
    } finally {
      other.exec('COMMIT');
      other.close();
    }
  });

  it('once the other connection is closed, the same restore succeeds', async () => {
    const db = await setUp('wal');
    const other = new Database(db);
    other.prepare('INSERT INTO t (body) VALUES (?)').run('after the backup');
    other.close();
    const result = await restoreBackup({ from: `${db}.bak1`, database: db, verify: 'quick' });
    expect(countRows(db)).toBe(countRows(`${db}.bak1`));
    expect(countRows(result.keptAs!)).toBe(countRows(`${db}.bak1`) + 1);
  });
});
