import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, SCHEMA_VERSION, WAL_SIZE_LIMIT_BYTES } from '../../dist/store/index.js';
import { inspect, LIMITS, sample, storeError, tempFolder } from './temp-store.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempFolder());
});

afterEach(() => cleanup());

describe('openStore refuses', () => {
  it.each([
    ['an empty path', '', LIMITS, 'store path must be a non-empty string'],
    ['an in-memory database', ':memory:', LIMITS, 'store path must be a file path'],
    ['missing limits', 'x.db', undefined, 'store limits must be an object'],
    [
      'a zero per-pair limit',
      'x.db',
      { maxPerActorContext: 0, maxBatch: 10 },
      'store limit maxPerActorContext must be a whole number from 1',
    ],
    [
      'a fractional batch limit',
      'x.db',
      { maxPerActorContext: 5, maxBatch: 1.5 },
      'store limit maxBatch must be a whole number from 1 to 100000 (got 1.5)',
    ],
  ])('%s', (_name, file, limits, message) => {
    const where = file === '' || file === ':memory:' ? file : path.join(dir, file);
    const err = storeError(() => openStore(where, limits as typeof LIMITS));
    expect(err.code).toBe('ATS_STORE_INVALID');
    expect(err.message).toContain(message);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a database from a newer ats, without changing it', () => {
    const file = path.join(dir, 'future.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.exec('CREATE TABLE future (x)');
    db.close();
    const before = fs.readFileSync(file);
    const err = storeError(() => openStore(file, LIMITS));
    expect(err.code).toBe('ATS_STORE_SCHEMA');
    expect(err.message).toBe(
      `open ${file}: database schema version 99 is newer than this ats knows (${SCHEMA_VERSION}); use a newer ats`,
    );
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    expect(inspect(file, (d) => d.pragma('journal_mode', { simple: true }))).toBe('delete');
  });

  it('a file that is not a database', () => {
    const file = path.join(dir, 'notes.txt');
    fs.writeFileSync(file, 'not a database '.repeat(100));
    const err = storeError(() => openStore(file, LIMITS));
    expect(err.code).toBe('ATS_STORE_OPEN');
    expect(err.message).toContain(`open ${file}:`);
    expect(err.message).toContain('not a database');
  });

  it('a path under a file', () => {
    fs.writeFileSync(path.join(dir, 'plain'), '');
    const err = storeError(() => openStore(path.join(dir, 'plain', 'ats.db'), LIMITS));
    expect(err.code).toBe('ATS_STORE_OPEN');
  });
});

describe('openStore', () => {
  it('creates the folder and the database on first open, with an absolute path', () => {
    const file = path.join(dir, 'deep', 'er', 'ats.db');
    const store = openStore(path.relative(process.cwd(), file), LIMITS);
    try {
      expect(store.path).toBe(file);
      expect(fs.statSync(file).isFile()).toBe(true);
    } finally {
      store.close();
    }
  });

  it('puts the database in WAL mode at the current schema version', () => {
    const file = path.join(dir, 'ats.db');
    const store = openStore(file, LIMITS);
    try {
      inspect(file, (db) => {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      });
    } finally {
      store.close();
    }
  });

  it('never checkpoints on commit (wal_autocheckpoint=0): the WAL grows past 1000 pages, the database file does not', () => {
    const file = path.join(dir, 'ats.db');
    const store = openStore(file, { maxPerActorContext: 10_000, maxBatch: 1000 });
    try {
      const startBytes = store.stats().databaseBytes;
      const filler = 'x'.repeat(2000);
      // ~3 000 attestations of 2 kB: well past SQLite's default autocheckpoint of 1000 pages
      // (in batches of 250, within the store's 1 MiB of text per batch).
      for (let b = 0; b < 12; b++) {
        store.put(
          Array.from({ length: 250 }, (_, i) => sample({ subjects: [`s${b}-${i}`], attributes: { filler } })),
        );
      }
      const stats = store.stats();
      expect(stats.walBytes).toBeGreaterThan(1000 * 4096);
      expect(stats.databaseBytes).toBe(startBytes);
    } finally {
      store.close();
    }
  });

  it('bounds its WAL file: once a checkpoint has copied everything, its next commit trims the WAL to 64 MiB', () => {
    const file = path.join(dir, 'ats.db');
    const store = openStore(file, { maxPerActorContext: 100_000, maxBatch: 1000 });
    try {
      const filler = 'y'.repeat(3000);
      for (let b = 0; store.stats().walBytes <= WAL_SIZE_LIMIT_BYTES; b++) {
        store.put(
          Array.from({ length: 250 }, (_, i) => sample({ subjects: [`w${b}-${i}`], attributes: { filler } })),
        );
      }
      const checkpointer = new Database(file);
      expect(checkpointer.pragma('wal_checkpoint(PASSIVE)')).toEqual([
        { busy: 0, log: expect.any(Number), checkpointed: expect.any(Number) },
      ]);
      checkpointer.close();
      store.put(sample({ id: 'after-checkpoint' }));
      expect(store.stats().walBytes).toBeLessThanOrEqual(WAL_SIZE_LIMIT_BYTES);
    } finally {
      store.close();
    }
  });

  it('applies migrations once: reopening keeps the data and the schema as they were', () => {
    const file = path.join(dir, 'ats.db');
    const schema = (): unknown =>
      inspect(file, (db) => db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY name').all());
    const first = openStore(file, LIMITS);
    first.put(sample({ id: 'kept' }));
    const before = schema();
    first.close();
    for (let i = 0; i < 2; i++) {
      const again = openStore(file, LIMITS);
      try {
        expect(again.get('kept')?.subjects).toEqual(['alice']);
        expect(again.stats().attestations).toBe(1);
      } finally {
        again.close();
      }
    }
    expect(schema()).toEqual(before);
    expect(inspect(file, (db) => db.pragma('user_version', { simple: true }))).toBe(SCHEMA_VERSION);
  });

  it('opens the same database twice at once', () => {
    const file = path.join(dir, 'ats.db');
    const a = openStore(file, LIMITS);
    const b = openStore(file, LIMITS);
    try {
      a.put(sample({ id: 'from-a' }));
      expect(b.get('from-a')?.id).toBe('from-a');
    } finally {
      a.close();
      b.close();
    }
  });
});
