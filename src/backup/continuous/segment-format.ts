import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import { BackupError } from '../errors.js';

/**
 * The immutable objects of continuous backup (LTX-like). One file:
 *   header (128 bytes) | records | trailer (40 bytes)
 * A record is one transaction (a snapshot is one record holding every page):
 *   txid u64 | timeMs u64 | commitPages u32 | pageCount u32 | postChecksum u64 | pageCount x (pgno u32 | page)
 * The trailer is "ATSE" | record count u32 | SHA-256 of every byte before the trailer. All integers
 * are big-endian. An object is refused unless its size, magics, counts and SHA-256 all agree.
 */
export const HEADER_BYTES = 128;
export const TRAILER_BYTES = 40;
const RECORD_HEADER_BYTES = 32;
const MAGIC = 'ATSC';
const TRAILER_MAGIC = 'ATSE';
const VERSION = 1;

/**
 * Byte 6 of the header holds flags: bit 0 says the body after the header (records and trailer) is
 * encrypted (`encrypted-store.ts`); then bytes 104..111 hold the key id and 112..127 the salt of
 * the object's data key. A plain object has zeros in all of them.
 */
export const FLAGS_OFFSET = 6;
export const FLAG_ENCRYPTED = 1;
export const KEY_ID_OFFSET = 104;
export const SALT_OFFSET = 112;

/** Kind of object. */
export type ObjectKind = 'snapshot' | 'segment';

/** What an object's header says. */
export interface ObjectHeader {
  readonly kind: ObjectKind;
  readonly pageSize: number;
  /** Lineage id: 32 hex digits. */
  readonly lineage: string;
  readonly minTxid: bigint;
  readonly maxTxid: bigint;
  /** When the first and last transaction were seen committed (ms since the epoch). */
  readonly minTimeMs: number;
  readonly maxTimeMs: number;
  /** Database size in pages after the whole object is applied. */
  readonly commitPages: number;
  /** Rolling checksum of the database before (0 for a snapshot) and after applying the object. */
  readonly preChecksum: bigint;
  readonly postChecksum: bigint;
  /** The WAL position of the primary after maxTxid, for resuming (salts, checkpoint seq, frame, checksums). */
  readonly wal: readonly [number, number, number, number, number, number];
}

/** One transaction of an object. */
export interface RecordHeader {
  readonly txid: bigint;
  readonly timeMs: number;
  readonly commitPages: number;
  readonly pageCount: number;
  readonly postChecksum: bigint;
}

function encodeHeader(h: ObjectHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt8(VERSION, 4);
  b.writeUInt8(h.kind === 'snapshot' ? 1 : 2, 5);
  b.writeUInt32BE(h.pageSize, 8);
  b.writeUInt32BE(h.commitPages, 12);
  Buffer.from(h.lineage, 'hex').copy(b, 16, 0, 16);
  b.writeBigUInt64BE(h.minTxid, 32);
  b.writeBigUInt64BE(h.maxTxid, 40);
  b.writeBigUInt64BE(BigInt(h.minTimeMs), 48);
  b.writeBigUInt64BE(BigInt(h.maxTimeMs), 56);
  b.writeBigUInt64BE(h.preChecksum, 64);
  b.writeBigUInt64BE(h.postChecksum, 72);
  for (const [i, v] of h.wal.entries()) b.writeUInt32BE(v >>> 0, 80 + 4 * i);
  return b;
}

/** Decodes a header; throws EFORMAT naming `where` when it is not one of ours. */
export function decodeHeader(b: Buffer, where: string): ObjectHeader {
  if (b.length < HEADER_BYTES || b.toString('latin1', 0, 4) !== MAGIC)
    throw new BackupError(
      'ATS_BACKUP_FORMAT',
      'read backup object',
      where,
      'not an ats continuous-backup object',
    );
  if (b.readUInt8(4) !== VERSION)
    throw new BackupError(
      'ATS_BACKUP_FORMAT',
      'read backup object',
      where,
      `unknown format version ${b.readUInt8(4)}`,
    );
  const kind = b.readUInt8(5);
  if (kind !== 1 && kind !== 2)
    throw new BackupError('ATS_BACKUP_FORMAT', 'read backup object', where, `unknown object kind ${kind}`);
  const wal = [0, 1, 2, 3, 4, 5].map((i) => b.readUInt32BE(80 + 4 * i)) as unknown as ObjectHeader['wal'];
  return {
    kind: kind === 1 ? 'snapshot' : 'segment',
    pageSize: b.readUInt32BE(8),
    commitPages: b.readUInt32BE(12),
    lineage: b.toString('hex', 16, 32),
    minTxid: b.readBigUInt64BE(32),
    maxTxid: b.readBigUInt64BE(40),
    minTimeMs: Number(b.readBigUInt64BE(48)),
    maxTimeMs: Number(b.readBigUInt64BE(56)),
    preChecksum: b.readBigUInt64BE(64),
    postChecksum: b.readBigUInt64BE(72),
    wal,
  };
}

/**
 * Writes one object to `file` (created new: never over an existing file): header first as a
 * placeholder, records as they come, then the final header, the trailer and an fsync.
 */
export class ObjectWriter {
  readonly #file: string;
  readonly #fd: number;
  readonly #pageSize: number;
  #offset = HEADER_BYTES;
  #records = 0;
  #open: { left: number } | undefined;
  #closed = false;

  constructor(file: string, pageSize: number) {
    this.#file = file;
    this.#pageSize = pageSize;
    this.#fd = fs.openSync(file, 'wx+', 0o600);
    fs.writeSync(this.#fd, Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0);
  }

  /** Starts a record of `r.pageCount` pages; each must then be given to `page`. */
  record(r: RecordHeader): void {
    if (this.#open !== undefined && this.#open.left > 0)
      throw new Error('object writer: record not complete');
    const b = Buffer.alloc(RECORD_HEADER_BYTES);
    b.writeBigUInt64BE(r.txid, 0);
    b.writeBigUInt64BE(BigInt(r.timeMs), 8);
    b.writeUInt32BE(r.commitPages, 16);
    b.writeUInt32BE(r.pageCount, 20);
    b.writeBigUInt64BE(r.postChecksum, 24);
    this.#write(b);
    this.#records++;
    this.#open = { left: r.pageCount };
  }

  page(pgno: number, data: Buffer): void {
    if (this.#open === undefined || this.#open.left === 0)
      throw new Error('object writer: page outside a record');
    if (data.length !== this.#pageSize) throw new Error(`object writer: page of ${data.length} bytes`);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(pgno, 0);
    this.#write(b);
    this.#write(data);
    this.#open.left--;
  }

  /** Writes the header and trailer, fsyncs and closes. */
  finish(header: ObjectHeader): void {
    if (this.#open !== undefined && this.#open.left > 0)
      throw new Error('object writer: record not complete');
    try {
      const head = encodeHeader(header);
      fs.writeSync(this.#fd, head, 0, HEADER_BYTES, 0);
      // The SHA-256 covers the final header: read the body back (it is in the page cache).
      const hash = createHash('sha256');
      hashRange(this.#fd, hash, 0, this.#offset);
      const trailer = Buffer.alloc(TRAILER_BYTES);
      trailer.write(TRAILER_MAGIC, 0, 'latin1');
      trailer.writeUInt32BE(this.#records, 4);
      hash.digest().copy(trailer, 8);
      fs.writeSync(this.#fd, trailer, 0, TRAILER_BYTES, this.#offset);
      fs.fsyncSync(this.#fd);
    } finally {
      this.abandon();
    }
  }

  /** Closes without finishing (the caller removes the file). */
  abandon(): void {
    if (this.#closed) return;
    this.#closed = true;
    fs.closeSync(this.#fd);
  }

  get file(): string {
    return this.#file;
  }

  #write(b: Buffer): void {
    fs.writeSync(this.#fd, b, 0, b.length, this.#offset);
    this.#offset += b.length;
  }
}

function hashRange(fd: number, hash: Hash, from: number, to: number): void {
  const buf = Buffer.alloc(1 << 20);
  for (let at = from; at < to; ) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, to - at), at);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    at += n;
  }
}

/**
 * Checks a whole object file: size, magics, record layout and SHA-256; returns its header. Reads
 * it once with a fixed buffer (memory does not grow with the object).
 */
export function checkObject(file: string): ObjectHeader {
  return readObject(file, () => undefined);
}

/**
 * Reads an object after checking it whole (`checkObject` first, then a second pass calling
 * `onPage` for each page of each record, `onRecord` before a record's pages). A short, truncated
 * or altered object is an EFORMAT or ECHECKSUM error naming the file, and nothing is called.
 */
export function readObject(
  file: string,
  onRecord: (r: RecordHeader) => boolean | undefined,
  onPage?: (pgno: number, page: Buffer) => void,
): ObjectHeader {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < HEADER_BYTES + TRAILER_BYTES)
      throw new BackupError(
        'ATS_BACKUP_FORMAT',
        'read backup object',
        file,
        `${size} bytes, shorter than any object (truncated?)`,
      );
    const head = Buffer.alloc(HEADER_BYTES);
    fs.readSync(fd, head, 0, HEADER_BYTES, 0);
    const header = decodeHeader(head, file);
    if ((head.readUInt8(FLAGS_OFFSET) & FLAG_ENCRYPTED) !== 0)
      throw new BackupError(
        'ATS_BACKUP_KEY',
        'read backup object',
        file,
        `the object is encrypted (key id ${head.toString('hex', KEY_ID_OFFSET, KEY_ID_OFFSET + 8)}): it is read through its key`,
      );
    const trailer = Buffer.alloc(TRAILER_BYTES);
    fs.readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
    if (trailer.toString('latin1', 0, 4) !== TRAILER_MAGIC)
      throw new BackupError(
        'ATS_BACKUP_FORMAT',
        'read backup object',
        file,
        'no trailer: the object is truncated',
      );
    const hash = createHash('sha256');
    hashRange(fd, hash, 0, size - TRAILER_BYTES);
    if (!hash.digest().equals(trailer.subarray(8)))
      throw new BackupError(
        'ATS_BACKUP_CHECKSUM',
        'read backup object',
        file,
        'SHA-256 mismatch: the object is damaged',
      );
    const records = trailer.readUInt32BE(4);
    walkRecords(fd, file, header, size - TRAILER_BYTES, records, onRecord, onPage);
    return header;
  } finally {
    fs.closeSync(fd);
  }
}

function walkRecords(
  fd: number,
  file: string,
  header: ObjectHeader,
  end: number,
  records: number,
  onRecord: (r: RecordHeader) => boolean | undefined,
  onPage: ((pgno: number, page: Buffer) => void) | undefined,
): void {
  const rh = Buffer.alloc(RECORD_HEADER_BYTES);
  const entry = Buffer.alloc(4 + header.pageSize);
  let at = HEADER_BYTES;
  const bad = (why: string): BackupError =>
    new BackupError('ATS_BACKUP_FORMAT', 'read backup object', file, why);
  for (let i = 0; i < records; i++) {
    if (fs.readSync(fd, rh, 0, RECORD_HEADER_BYTES, at) !== RECORD_HEADER_BYTES)
      throw bad(`record ${i} cut short`);
    at += RECORD_HEADER_BYTES;
    const r: RecordHeader = {
      txid: rh.readBigUInt64BE(0),
      timeMs: Number(rh.readBigUInt64BE(8)),
      commitPages: rh.readUInt32BE(16),
      pageCount: rh.readUInt32BE(20),
      postChecksum: rh.readBigUInt64BE(24),
    };
    const bytes = r.pageCount * entry.length;
    if (at + bytes > end) throw bad(`record ${i} (txid ${r.txid}) runs past the end`);
    const wanted = onRecord(r) !== false && onPage !== undefined;
    if (wanted && onPage) {
      for (let p = 0; p < r.pageCount; p++) {
        fs.readSync(fd, entry, 0, entry.length, at + p * entry.length);
        onPage(entry.readUInt32BE(0), entry.subarray(4));
      }
    }
    at += bytes;
  }
  if (at !== end) throw bad(`${end - at} bytes after the last record`);
}
