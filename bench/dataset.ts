import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ATS_INDEXES, ATS_TABLE, AttestationGenerator, prepareInsert } from './ats-rows.js';
import { log } from './log.js';

/** Bump when the dataset's shape changes, so cached files are rebuilt. */
const DATASET_VERSION = 2;
/** The four value indexes add about this share to the table's size (measured on these rows). */
const INDEX_SHARE = 0.3;
const ROWS_PER_TRANSACTION = 20_000;

/** What the cache records beside each prepared database. */
interface DatasetMeta {
  readonly version: number;
  readonly sizeMb: number;
  readonly rows: number;
  readonly bytes: number;
  readonly buildMs: number;
}

/** A prepared database: a pristine file never written to after it is built. */
export interface Dataset {
  readonly sizeMb: number;
  readonly file: string;
  readonly rows: number;
  readonly bytes: number;
  /** How long building it took in this run; 0 when it came from the cache. */
  readonly buildMs: number;
}

/**
 * Returns the ATS-shaped WAL database of about `sizeMb` MB in `dir`, building it only when the
 * cache has none of this size and version (a 1 GB build takes about a minute).
 */
export function ensureDataset(dir: string, sizeMb: number): Dataset {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `ats-${sizeMb}mb.db`);
  const metaFile = `${file}.json`;
  const cached = readMeta(metaFile);
  if (
    cached &&
    cached.version === DATASET_VERSION &&
    cached.sizeMb === sizeMb &&
    fs.existsSync(file) &&
    fs.statSync(file).size === cached.bytes
  ) {
    return { sizeMb, file, rows: cached.rows, bytes: cached.bytes, buildMs: 0 };
  }
  log(`dataset: building ${path.relative(process.cwd(), file)} (${sizeMb} MB, cached for later runs)`);
  const started = performance.now();
  const building = `${file}.building`;
  for (const f of [building, `${building}-wal`, `${building}-shm`, file, metaFile])
    fs.rmSync(f, { force: true });
  const rows = build(building, sizeMb * 1024 * 1024);
  fs.renameSync(building, file);
  const meta: DatasetMeta = {
    version: DATASET_VERSION,
    sizeMb,
    rows,
    bytes: fs.statSync(file).size,
    buildMs: Math.round(performance.now() - started),
  };
  fs.writeFileSync(metaFile, `${JSON.stringify(meta, null, 2)}\n`);
  log(`dataset: ${rows} rows, ${(meta.bytes / 1e6).toFixed(0)} MB in ${(meta.buildMs / 1000).toFixed(1)} s`);
  return { sizeMb, file, rows, bytes: meta.bytes, buildMs: meta.buildMs };
}

function build(file: string, targetBytes: number): number {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576'); // 1 GiB: the id index's pages stay cached while ids arrive in random order
    db.exec(ATS_TABLE);
    const insert = prepareInsert(db, 'seed');
    const gen = new AttestationGenerator(0xa75);
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const pageCount = db.prepare('PRAGMA page_count').pluck();
    const batch = db.transaction(() => {
      for (let i = 0; i < ROWS_PER_TRANSACTION; i++) insert(gen.next(), gen.id());
    });
    let rows = 0;
    // Rows first, then the four indexes in one sorted pass each: several times faster than
    // inserting through them (their pages end up fuller than an index grown by inserts).
    while (Number(pageCount.get()) * pageSize < targetBytes * (1 - INDEX_SHARE)) {
      batch();
      rows += ROWS_PER_TRANSACTION;
    }
    db.exec(ATS_INDEXES);
    db.pragma('wal_checkpoint(TRUNCATE)');
    return rows;
  } finally {
    db.close();
  }
}

function readMeta(file: string): DatasetMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as DatasetMeta;
  } catch {
    return undefined; // no cache yet, or a half-written one: rebuild
  }
}

/**
 * Makes `work` a fresh, fsynced copy of the pristine dataset when it is missing or the writers of
 * earlier cells grew it by more than `maxGrowth`; otherwise keeps it. Returns whether it copied.
 */
export function refreshWorkingCopy(dataset: Dataset, work: string, maxGrowth = 0.1): boolean {
  const size = fs.existsSync(work) ? fs.statSync(work).size : 0;
  if (size > 0 && size <= dataset.bytes * (1 + maxGrowth)) return false;
  for (const f of [work, `${work}-wal`, `${work}-shm`]) fs.rmSync(f, { force: true });
  fs.mkdirSync(path.dirname(work), { recursive: true });
  fs.copyFileSync(dataset.file, work);
  // Flushed now, so its write-back does not compete with the cell that follows.
  const fd = fs.openSync(work, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Empties the WAL of `file` (no other connection may be open), so every cell starts alike. */
export function truncateWal(file: string): void {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** Current size of `file` in bytes, 0 when it does not exist. */
export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
