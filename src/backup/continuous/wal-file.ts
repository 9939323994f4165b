import fs from 'node:fs';

/** Size of the WAL file header and of each frame header (wal.c: WAL_HDRSIZE, WAL_FRAME_HDRSIZE). */
export const WAL_HEADER_BYTES = 32;
export const FRAME_HEADER_BYTES = 24;
const WAL_MAGIC = 0x377f0682; // | 1: checksums computed on big-endian words
const WAL_VERSION = 3007000;

/** The WAL file's header: one generation of the log is one pair of salts. */
export interface WalHeader {
  readonly bigEndianChecksum: boolean;
  readonly pageSize: number;
  /** Checkpoint sequence number: walRestartHdr() adds 1 at each restart of the log. */
  readonly checkpointSeq: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly checksum1: number;
  readonly checksum2: number;
}

/** A place in one WAL generation: after frame `frame`, whose cumulative checksum is (checksum1, checksum2). */
export interface WalPosition {
  readonly salt1: number;
  readonly salt2: number;
  readonly checkpointSeq: number;
  /** Frames of this generation up to and including the last commit frame shipped (0: none yet). */
  readonly frame: number;
  readonly checksum1: number;
  readonly checksum2: number;
}

/** One committed transaction as the WAL holds it: the newest version of each page it wrote. */
export interface WalTransaction {
  /** The commit frame's number (1-based) and its cumulative checksum: the position after it. */
  readonly end: WalPosition;
  /** Database size in pages after this commit (the commit frame's nTruncate). */
  readonly commitPages: number;
  /** Pages written, newest version each; pages above `commitPages` already dropped. */
  readonly pages: ReadonlyMap<number, Buffer>;
}

/** What a scan found after a position. */
export type WalScan =
  | { readonly kind: 'empty' } // no valid header: the log is empty (or was never used)
  | {
      readonly kind: 'continues';
      readonly header: WalHeader;
      readonly transactions: readonly WalTransaction[];
      readonly end: WalPosition;
    }
  | {
      /** The generation of `from` is gone or its frames no longer match: a restart went by, or worse. */
      readonly kind: 'moved';
      readonly header: WalHeader;
      readonly reason: string;
    };

/** Parses a WAL header the way walIndexRecover() accepts one, or undefined. */
export function parseWalHeader(buf: Buffer): WalHeader | undefined {
  if (buf.length < WAL_HEADER_BYTES) return undefined;
  const magic = buf.readUInt32BE(0);
  if ((magic & 0xfffffffe) !== WAL_MAGIC) return undefined;
  if (buf.readUInt32BE(4) !== WAL_VERSION) return undefined;
  const pageSize = buf.readUInt32BE(8);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  const bigEndianChecksum = (magic & 1) === 1;
  const [c1, c2] = walChecksum(bigEndianChecksum, buf.subarray(0, 24), 0, 0);
  if (c1 !== buf.readUInt32BE(24) || c2 !== buf.readUInt32BE(28)) return undefined;
  return {
    bigEndianChecksum,
    pageSize,
    checkpointSeq: buf.readUInt32BE(12),
    salt1: buf.readUInt32BE(16),
    salt2: buf.readUInt32BE(20),
    checksum1: c1,
    checksum2: c2,
  };
}

/**
 * SQLite's WAL checksum (wal.c walChecksumBytes): over 32-bit words, read big-endian when the
 * magic says so and little-endian otherwise, s1 += w[i] + s2; s2 += w[i+1] + s1.
 */
export function walChecksum(bigEndian: boolean, data: Buffer, s1In: number, s2In: number): [number, number] {
  let s1 = s1In >>> 0;
  let s2 = s2In >>> 0;
  const n = data.length;
  if (bigEndian) {
    for (let i = 0; i < n; i += 8) {
      s1 = (s1 + data.readUInt32BE(i) + s2) >>> 0;
      s2 = (s2 + data.readUInt32BE(i + 4) + s1) >>> 0;
    }
  } else {
    for (let i = 0; i < n; i += 8) {
      s1 = (s1 + data.readUInt32LE(i) + s2) >>> 0;
      s2 = (s2 + data.readUInt32LE(i + 4) + s1) >>> 0;
    }
  }
  return [s1, s2];
}

/** The position before the first frame of the generation `header` starts. */
export function startOf(header: WalHeader): WalPosition {
  return {
    salt1: header.salt1,
    salt2: header.salt2,
    checkpointSeq: header.checkpointSeq,
    frame: 0,
    checksum1: header.checksum1,
    checksum2: header.checksum2,
  };
}

/** Whether two positions name the same place. */
export function samePosition(a: WalPosition, b: WalPosition): boolean {
  return (
    a.salt1 === b.salt1 &&
    a.salt2 === b.salt2 &&
    a.frame === b.frame &&
    a.checksum1 === b.checksum1 &&
    a.checksum2 === b.checksum2
  );
}

/**
 * Reads the committed transactions of the WAL after `from` exactly as SQLite's recovery would
 * trust them: the header must be valid; every frame must carry the header's salts, a non-zero page
 * number and the cumulative checksum of everything before it; a transaction counts only once its
 * commit frame (nTruncate != 0) is read, and frames after the last commit frame are left for the
 * next scan. Pages above the commit's database size are dropped. When `from` is given, the frame
 * at `from.frame` must still carry `from`'s salts and checksum, or the result is 'moved'.
 * `fd` is an open descriptor of the -wal file (it carries no SQLite locks: opening and closing
 * it is safe). `maxBytes` bounds how much one scan reads (the rest is read by the next one).
 */
export function scanWal(fd: number, from: WalPosition | undefined, maxBytes = 64 << 20): WalScan {
  const headerBuf = Buffer.alloc(WAL_HEADER_BYTES);
  const got = fs.readSync(fd, headerBuf, 0, WAL_HEADER_BYTES, 0);
  const header = got === WAL_HEADER_BYTES ? parseWalHeader(headerBuf) : undefined;
  if (header === undefined) return { kind: 'empty' };
  const frameBytes = FRAME_HEADER_BYTES + header.pageSize;
  let at = startOf(header);
  if (from !== undefined) {
    if (from.salt1 !== header.salt1 || from.salt2 !== header.salt2)
      return { kind: 'moved', header, reason: 'the WAL has other salts: the log restarted' };
    if (from.frame > 0) {
      const fh = Buffer.alloc(FRAME_HEADER_BYTES);
      const n = fs.readSync(fd, fh, 0, FRAME_HEADER_BYTES, WAL_HEADER_BYTES + (from.frame - 1) * frameBytes);
      if (
        n !== FRAME_HEADER_BYTES ||
        fh.readUInt32BE(8) !== from.salt1 ||
        fh.readUInt32BE(12) !== from.salt2 ||
        fh.readUInt32BE(16) !== from.checksum1 ||
        fh.readUInt32BE(20) !== from.checksum2
      )
        return { kind: 'moved', header, reason: `frame ${from.frame} is no longer the one shipped` };
    } else if (from.checksum1 !== header.checksum1 || from.checksum2 !== header.checksum2) {
      return { kind: 'moved', header, reason: 'the WAL header changed' };
    }
    at = from;
  }
  const transactions: WalTransaction[] = [];
  let pending = new Map<number, Buffer>();
  let [s1, s2] = [at.checksum1, at.checksum2];
  let frame = at.frame;
  let end = at;
  const chunkFrames = Math.max(1, Math.floor((4 << 20) / frameBytes));
  const chunk = Buffer.alloc(chunkFrames * frameBytes);
  const limitFrames = Math.max(1, Math.floor(maxBytes / frameBytes));
  let read = 0;
  // The bound is checked only at commit frames: a transaction larger than it is still read whole.
  scan: for (;;) {
    const n = fs.readSync(fd, chunk, 0, chunk.length, WAL_HEADER_BYTES + frame * frameBytes);
    const frames = Math.floor(n / frameBytes);
    if (frames === 0) break;
    for (let i = 0; i < frames; i++) {
      const f = chunk.subarray(i * frameBytes, (i + 1) * frameBytes);
      const pgno = f.readUInt32BE(0);
      if (f.readUInt32BE(8) !== header.salt1 || f.readUInt32BE(12) !== header.salt2 || pgno === 0) break scan;
      [s1, s2] = walChecksum(header.bigEndianChecksum, f.subarray(0, 8), s1, s2);
      [s1, s2] = walChecksum(header.bigEndianChecksum, f.subarray(FRAME_HEADER_BYTES), s1, s2);
      if (s1 !== f.readUInt32BE(16) || s2 !== f.readUInt32BE(20)) break scan;
      frame++;
      read++;
      pending.set(pgno, Buffer.from(f.subarray(FRAME_HEADER_BYTES)));
      const commitPages = f.readUInt32BE(4);
      if (commitPages !== 0) {
        for (const p of pending.keys()) if (p > commitPages) pending.delete(p);
        end = { ...end, frame, checksum1: s1, checksum2: s2, checkpointSeq: header.checkpointSeq };
        transactions.push({ end, commitPages, pages: pending });
        pending = new Map();
        if (read >= limitFrames) break scan;
      }
    }
    if (n < chunk.length) break;
  }
  return { kind: 'continues', header, transactions, end };
}
