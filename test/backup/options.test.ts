import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupError, type BackupOptions, runBackup } from '../../dist/backup/index.js';
import { listDir, makeDatabase, rejection, tempDir } from '../helpers.js';

let dir: string;
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function failure(options: BackupOptions): Promise<BackupError> {
  return rejection(runBackup(options), BackupError);
}

describe('runBackup rejects bad options, naming the option', () => {
  const cases: [string, (db: string) => unknown, RegExp][] = [
    ['no options object', () => null, /options must be an object/],
    ['empty source', () => ({ source: '' }), /"source" must be a non-empty path/],
    ['misspelled option', (db) => ({ source: db, Keep: 3 }), /misspelled option "Keep" should be "keep"/],
    ['unknown option', (db) => ({ source: db, retries: 3 }), /unknown option "retries"/],
    [
      'keep zero',
      (db) => ({ source: db, keep: 0 }),
      /"keep" must be a whole number from 1 to 1000 \(got 0\)/,
    ],
    ['keep fraction', (db) => ({ source: db, keep: 1.5 }), /"keep" must be a whole number/],
    [
      'verify word',
      (db) => ({ source: db, verify: 'fast' }),
      /"verify" must be "quick", "full" or "off" \(got "fast"\)/,
    ],
    [
      'negative busy timeout',
      (db) => ({ source: db, busyTimeoutMs: -1 }),
      /"busyTimeoutMs" must be a whole number/,
    ],
    ['signal not a signal', (db) => ({ source: db, signal: {} }), /"signal" must be an AbortSignal/],
    [
      'engine word',
      (db) => ({ source: db, engine: 'fast' }),
      /"engine" must be "auto", "block" or "backup-api" \(got "fast"\)/,
    ],
  ];
  it.each(cases)('%s', async (_name, make, message) => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.1);
    const err = await failure(make(db) as BackupOptions);
    expect(err.code).toBe('ATS_BACKUP_INVALID');
    expect(err.message).toMatch(message);
    expect(listDir(dir)).toEqual(
      ['a.db', 'a.db-shm', 'a.db-wal'].filter((f) => fs.existsSync(path.join(dir, f))),
    );
  });
});

describe('runBackup rejects bad paths with what is wrong and where', () => {
  it('a missing source', async () => {
    dir = tempDir();
    const err = await failure({ source: path.join(dir, 'none.db') });
    expect(err.code).toBe('ATS_BACKUP_SOURCE');
    expect(err.message).toBe(`open source ${path.join(dir, 'none.db')}: no such file`);
    expect(listDir(dir)).toEqual([]);
  });

  it('a source that is a folder', async () => {
    dir = tempDir();
    const err = await failure({ source: dir, target: path.join(dir, 'x') });
    expect(err.code).toBe('ATS_BACKUP_SOURCE');
    expect(err.message).toMatch(/not a regular file/);
  });

  it('a source that is not a database', async () => {
    dir = tempDir();
    const src = path.join(dir, 'notes.txt');
    fs.writeFileSync(src, 'these are not the pages you are looking for\n'.repeat(200));
    const err = await failure({ source: src });
    expect(err.code).toBe('ATS_BACKUP_SOURCE');
    expect(err.message).toMatch(/file is not a database/);
    expect(listDir(dir)).toEqual(['notes.txt', 'notes.txt.bak.lock']);
  });

  it('a backup folder that does not exist, or is a file', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db');
    makeDatabase(db, 0.1);
    const missing = await failure({ source: db, target: path.join(dir, 'nowhere', 'a.db') });
    expect(missing.code).toBe('ATS_BACKUP_DEST');
    expect(missing.message).toBe(`backup folder ${path.join(dir, 'nowhere')}: does not exist`);
    fs.writeFileSync(path.join(dir, 'file'), '');
    const file = await failure({ source: db, target: path.join(dir, 'file', 'a.db') });
    expect(file.code).toBe('ATS_BACKUP_DEST');
    expect(file.message).toMatch(/is not a folder/);
  });

  it('a target whose generation would be the database itself', async () => {
    dir = tempDir();
    const db = path.join(dir, 'a.db.bak2');
    makeDatabase(db, 0.1);
    const err = await failure({ source: db, target: path.join(dir, 'a.db') });
    expect(err.code).toBe('ATS_BACKUP_INVALID');
    expect(err.message).toMatch(/would be the database itself/);
  });
});
