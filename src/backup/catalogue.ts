import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { BackupError } from './errors.js';
import { installFile } from './install.js';

/**
 * The catalogue of the backups of one database: the only place that names them (`<base>.bak1`
 * newest, `.bak2`, ...), lists them, resolves a user's reference (`bak2`, a path) to a file, and
 * records what each backup is. Records live in `<base>.backups.json`, keyed by each file's
 * device and inode (rotation renames and hard-links, so a backup keeps its inode as it moves
 * from `.bak1` to `.bak2`): a crash between writing the record and rotating can never attach it
 * to the wrong file, only leave a record with no file, dropped at the next write.
 */

/** What a backup holds and where it came from, written when it was taken. */
export interface BackupRecord {
  /** Lineage of the database it copies; undefined when that database has none (not made by ats). */
  readonly lineage: string | undefined;
  /** Every lineage the data went through, oldest first. */
  readonly lineageHistory: readonly string[];
  /** When the snapshot was taken (ISO 8601). */
  readonly createdAt: string;
  /** The database it copies, as a real path. */
  readonly source: string;
  readonly pages: number;
  readonly pageSize: number;
  readonly bytes: number;
  /** sha256 of the file, hex. */
  readonly checksum: string;
}

/** One backup generation on disk. */
export interface Generation {
  readonly generation: number;
  /** The user-facing name: `bak1`, `bak2`, ... */
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly modifiedAt: string;
  /** Its record; undefined for a backup taken before records existed, or whose record was lost. */
  readonly record: BackupRecord | undefined;
}

/** Where a backup reference points. Local files today; a remote kind can join later. */
export type BackupLocation = { readonly kind: 'local'; readonly file: string; readonly generation?: number };

interface StoredRecord extends BackupRecord {
  readonly dev: number;
  readonly ino: number;
  readonly mtimeMs: number;
}

const GENERATION = /^bak([1-9][0-9]*)$/;

/** Base path of the backups of `database` kept in `backupDir`: `<backupDir>/<database file name>`. */
export function backupBase(backupDir: string, database: string): string {
  return path.join(path.resolve(backupDir), path.basename(database));
}

/** Path of generation `n` (1 = newest). */
export function generationPath(base: string, n: number): string {
  return `${base}.bak${n}`;
}

/** Path of the record file of the backups at `base`. */
export function recordsPath(base: string): string {
  return `${base}.backups.json`;
}

/** Resolves what a user names a backup by: `bakN` (a generation) or a file path. */
export function resolveBackup(reference: string, base: string): BackupLocation {
  const match = GENERATION.exec(reference);
  if (match) {
    const generation = Number(match[1]);
    return Object.freeze({ kind: 'local', file: generationPath(base, generation), generation });
  }
  return Object.freeze({ kind: 'local', file: path.resolve(reference) });
}

/** The generations on disk, newest first, each with its record when there is one. */
export function listGenerations(base: string): Generation[] {
  const records = readRecords(base);
  const found: Generation[] = [];
  for (let n = 1; ; n++) {
    const file = generationPath(base, n);
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) break;
    found.push(
      Object.freeze({
        generation: n,
        name: `bak${n}`,
        file,
        bytes: stat.size,
        modifiedAt: stat.mtime.toISOString(),
        record: recordOf(records, stat),
      }),
    );
  }
  return found;
}

/** The record of one file, if the catalogue at `base` has one for it. */
export function findRecord(base: string, file: string): BackupRecord | undefined {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat ? recordOf(readRecords(base), stat) : undefined;
}

/**
 * Records `record` for the finished copy `file` (before it is rotated in), dropping records of
 * files that are gone. Call only while holding the backup lock.
 */
export async function addRecord(base: string, file: string, record: BackupRecord): Promise<void> {
  const stat = await fsp.stat(file);
  const live = new Set(listGenerations(base).map((g) => idOf(fs.statSync(g.file))));
  const kept = readRecords(base).filter((r) => live.has(idOf(r)));
  const entry: StoredRecord = { ...record, dev: stat.dev, ino: stat.ino, mtimeMs: stat.mtimeMs };
  const tmp = `${recordsPath(base)}.tmp`;
  await fsp.writeFile(tmp, `${JSON.stringify({ version: 1, backups: [...kept, entry] }, null, 2)}\n`);
  // No folder fsync of its own: rotation's install, next, fsyncs the same folder after its rename.
  await installFile(tmp, recordsPath(base), undefined, { syncFolder: false });
}

/** A file's sha256 and how long hashing it took. */
export interface FileHash {
  /** sha256, hex. */
  readonly checksum: string;
  /** From the call to the digest, the hashing thread's start included. */
  readonly ms: number;
}

/**
 * sha256 of a file, hex. Hashed in a worker thread: at a few hundred MiB/s a large backup would
 * otherwise hold the host's event loop (the service's requests) for seconds in total.
 */
export async function checksumOf(file: string): Promise<string> {
  return (await hashFile(file)).checksum;
}

/**
 * {@link checksumOf} with its duration. The hashing thread runs by itself, so the calling thread
 * may do other work meanwhile (the copy verifies the backup while it is hashed). `background`:
 * the thread lowers its own priority (nice 10, Linux, best effort), so that beside a backup the
 * host's threads and its writers go first and the hash takes what CPU is left.
 */
export function hashFile(file: string, opts: { background?: boolean } = {}): Promise<FileHash> {
  const startedAt = performance.timeOrigin + performance.now();
  return new Promise((resolve, reject) => {
    const worker = new Worker(CHECKSUM_WORKER, {
      eval: true,
      workerData: { file, nice: opts.background ? 10 : 0 },
    });
    let hash: FileHash | undefined;
    let failure: Error | undefined;
    worker.on('message', (m: { digest?: string; endedAt?: number; error?: string }) => {
      if (m.digest !== undefined) hash = { checksum: m.digest, ms: Math.round((m.endedAt ?? 0) - startedAt) };
      else failure = new Error(m.error);
    });
    worker.on('error', (err) => (failure = err));
    worker.on('exit', () =>
      hash !== undefined
        ? resolve(hash)
        : reject(new BackupError('ATS_BACKUP_COPY', 'checksum', file, failure?.message ?? 'worker exited')),
    );
  });
}

// Synchronous reads: this thread does nothing else, and Node's shared thread pool stays free for the host.
const CHECKSUM_WORKER = `
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.nice) {
  try {
    // This thread only: /proc/thread-self names its thread id, which setpriority() takes on Linux.
    require('node:os').setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
  } catch {}
}
let fd;
try {
  fd = fs.openSync(workerData.file, 'r');
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(4 << 20);
  for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  parentPort.postMessage({ digest: hash.digest('hex'), endedAt: performance.timeOrigin + performance.now() });
} catch (err) {
  parentPort.postMessage({ error: err.message });
} finally {
  if (fd !== undefined) fs.closeSync(fd);
}
`;

/**
 * Whether a new backup of `record` may replace or prune `existing`: only a backup of the same
 * database may. With lineages on both sides, one must be in the other's history (a restored
 * database descends from its backups); otherwise the real source paths must agree. A generation
 * without a record (taken before records existed) is not judged.
 */
export function sameDatabase(record: BackupRecord, existing: BackupRecord | undefined): boolean {
  if (!existing) return true;
  if (record.lineage && existing.lineage) {
    return (
      record.lineageHistory.includes(existing.lineage) || existing.lineageHistory.includes(record.lineage)
    );
  }
  return record.source === existing.source;
}

/** Refuses, naming the generation, when any backup at `base` belongs to another database than `record`. */
export function requireSameDatabase(base: string, record: BackupRecord): void {
  for (const g of listGenerations(base)) {
    if (sameDatabase(record, g.record)) continue;
    const other = g.record!;
    throw new BackupError(
      'ATS_BACKUP_LINEAGE',
      'backup',
      g.file,
      `holds a backup of another database (${other.source}, lineage ${other.lineage ?? 'none'}, taken ${other.createdAt}), ` +
        `not of ${record.source} (lineage ${record.lineage ?? 'none'}); nothing was rotated: ` +
        'give this database its own backup folder, or move those backups away',
    );
  }
}

function readRecords(base: string): StoredRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(recordsPath(base), 'utf8');
  } catch {
    return []; // no records yet
  }
  try {
    const parsed = JSON.parse(text) as { backups?: unknown };
    return Array.isArray(parsed.backups) ? (parsed.backups as StoredRecord[]) : [];
  } catch {
    return []; // unreadable records: the backups are still listed, without what they hold
  }
}

function recordOf(records: readonly StoredRecord[], stat: fs.Stats): BackupRecord | undefined {
  const r = records.find(
    (e) =>
      e.dev === stat.dev &&
      e.ino === stat.ino &&
      e.bytes === stat.size &&
      Math.floor(e.mtimeMs) === Math.floor(stat.mtimeMs), // to the ms: utimes() cannot set nanoseconds back
  );
  if (!r) return undefined;
  const { dev: _dev, ino: _ino, mtimeMs: _mtime, ...record } = r;
  return Object.freeze(record);
}

function idOf(s: { dev: number; ino: number }): string {
  return `${s.dev}:${s.ino}`;
}
