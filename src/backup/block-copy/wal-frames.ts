import fs from 'node:fs';
import { checksum, type WalIndexHeader } from './wal-index.js';

const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const WAL_MAGIC = 0x377f0682; // | 1: big-endian checksums
const CHUNK_BYTES = 4 << 20;

/** The snapshot's pages that live in the WAL, or why they could not be read. */
export type SnapshotFrames =
  | {
      readonly ok: true;
      /** The newest version of each page <= nPage among frames 1..mxFrame, as far as the memory budget allows. */
      readonly pages: ReadonlyMap<number, Buffer>;
      /**
       * The other pages <= nPage with a frame: [page number, its newest frame], in page order. Their
       * content is to be read from the WAL while the snapshot is still held (frames 1..mxFrame
       * cannot change while a read mark >= 1 is held).
       */
      readonly streamed: readonly (readonly [number, number])[];
      readonly frames: number;
    }
  | {
      readonly ok: false;
      /** True when the WAL was reset after the snapshot was pinned (its salts changed or it shrank). */
      readonly reset: boolean;
      readonly reason: string;
    };

/**
 * Reads frames 1..mxFrame of the snapshot named by `header` from the `-wal` file and validates
 * them as SQLite's recovery would (wal.c walIndexRecover/walDecodeFrame): the WAL header's magic,
 * page size, salts and checksum; every frame's salts; the cumulative checksum chain ending at
 * exactly the header's checksum for frame mxFrame, which must be a commit frame of nPage pages.
 * The `-wal` carries no locks, so opening and closing it is safe. `maxBytes` bounds the memory the
 * kept pages may take: a page first seen past it is listed in `streamed` instead (by its newest
 * frame), and a page once kept is always kept at its newest version.
 */
export function readSnapshotFrames(wal: string, header: WalIndexHeader, maxBytes: number): SnapshotFrames {
  const pages = new Map<number, Buffer>();
  const newest = new Map<number, number>(); // page -> its newest frame, for pages not kept in memory
  if (header.mxFrame === 0) return { ok: true, pages, streamed: [], frames: 0 };
  const fail = (reason: string): SnapshotFrames => ({ ok: false, reset: walWasReset(wal, header), reason });
  let fd: number;
  try {
    fd = fs.openSync(wal, 'r');
  } catch (err) {
    return fail(`cannot open the WAL: ${(err as Error).message}`);
  }
  try {
    const head = Buffer.allocUnsafeSlow(WAL_HEADER_BYTES);
    if (fs.readSync(fd, head, 0, WAL_HEADER_BYTES, 0) < WAL_HEADER_BYTES)
      return fail('the WAL is shorter than its header');
    const magic = head.readUInt32BE(0);
    if ((magic & ~1) >>> 0 !== WAL_MAGIC) return fail('the WAL header has no WAL magic number');
    const littleEndian = (magic & 1) === 0;
    if (header.bigEndCksum === littleEndian)
      return fail('the WAL and the wal-index disagree on checksum byte order');
    if (head.readUInt32BE(8) !== header.pageSize) return fail('the WAL page size differs from the wal-index');
    if (!head.subarray(16, 24).equals(header.salt)) return fail('the WAL salts differ from the snapshot');
    let sum = checksum(head.subarray(0, 24), littleEndian, [0, 0]);
    if (sum[0] !== head.readUInt32BE(24) || sum[1] !== head.readUInt32BE(28))
      return fail('the WAL header checksum fails');

    const frameBytes = FRAME_HEADER_BYTES + header.pageSize;
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / frameBytes));
    const chunk = Buffer.allocUnsafeSlow(perChunk * frameBytes); // own ArrayBuffer: word-aligned frames
    for (let first = 1; first <= header.mxFrame; first += perChunk) {
      const count = Math.min(perChunk, header.mxFrame - first + 1);
      const want = count * frameBytes;
      const got = fs.readSync(fd, chunk, 0, want, WAL_HEADER_BYTES + (first - 1) * frameBytes);
      if (got < want) return fail(`the WAL ends before frame ${header.mxFrame}`);
      for (let k = 0; k < count; k++) {
        const frame = chunk.subarray(k * frameBytes, (k + 1) * frameBytes);
        const n = first + k;
        const pgno = frame.readUInt32BE(0);
        if (pgno === 0) return fail(`frame ${n} has page number 0`);
        if (!frame.subarray(8, 16).equals(header.salt)) return fail(`frame ${n} has other salts`);
        sum = checksum(frame.subarray(0, 8), littleEndian, sum);
        sum = checksum(frame.subarray(FRAME_HEADER_BYTES), littleEndian, sum);
        if (sum[0] !== frame.readUInt32BE(16) || sum[1] !== frame.readUInt32BE(20)) {
          return fail(`frame ${n} fails its checksum`);
        }
        if (pgno <= header.nPage) {
          if (pages.has(pgno) || (pages.size + 1) * header.pageSize <= maxBytes) {
            pages.set(pgno, Buffer.from(frame.subarray(FRAME_HEADER_BYTES)));
          } else newest.set(pgno, n);
        }
        if (n === header.mxFrame) {
          const commitSize = frame.readUInt32BE(4);
          if (commitSize !== header.nPage) {
            return fail(
              `frame ${n} is not the commit frame of a ${header.nPage}-page database (it says ${commitSize})`,
            );
          }
          if (sum[0] !== header.frameCksum[0] || sum[1] !== header.frameCksum[1]) {
            return fail(`the checksum at frame ${n} differs from the wal-index header's`);
          }
        }
      }
    }
    const streamed = [...newest.entries()].sort((a, b) => a[0] - b[0]);
    return { ok: true, pages, streamed, frames: header.mxFrame };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whether the WAL was restarted since `header` was current: a restart always changes the salts
 * (wal.c walRestartHdr), and a TRUNCATE checkpoint shrinks the file. Neither can happen while a
 * reader holds a read mark >= 1 (walRestartLog needs marks 1..N exclusively), so a reset proves
 * the snapshot was pinned on read mark 0, where the database file alone is the snapshot.
 */
export function walWasReset(wal: string, header: WalIndexHeader): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(wal, 'r');
    const size = fs.fstatSync(fd).size;
    if (size < WAL_HEADER_BYTES + header.mxFrame * (FRAME_HEADER_BYTES + header.pageSize)) return true;
    const head = Buffer.alloc(WAL_HEADER_BYTES);
    fs.readSync(fd, head, 0, WAL_HEADER_BYTES, 0);
    return !head.subarray(16, 24).equals(header.salt);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT'; // a deleted WAL was reset too
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes the `streamed` pages of a validated snapshot from the `-wal` into the copy `fd`, each from
 * its newest frame. Call only while the snapshot is held on a read mark >= 1, when frames
 * 1..mxFrame cannot change; each frame's page number and salts are checked again all the same.
 * Returns why it stopped, or undefined when every page was written.
 */
export function writeStreamedPages(
  wal: string,
  header: WalIndexHeader,
  streamed: readonly (readonly [number, number])[],
  fd: number,
): string | undefined {
  if (streamed.length === 0) return undefined;
  const frameBytes = FRAME_HEADER_BYTES + header.pageSize;
  const frame = Buffer.allocUnsafeSlow(frameBytes);
  const walFd = fs.openSync(wal, 'r');
  try {
    for (const [pgno, n] of streamed) {
      const got = fs.readSync(walFd, frame, 0, frameBytes, WAL_HEADER_BYTES + (n - 1) * frameBytes);
      if (got < frameBytes) return `the WAL ends before frame ${n}`;
      if (frame.readUInt32BE(0) !== pgno || !frame.subarray(8, 16).equals(header.salt))
        return `frame ${n} changed under the held snapshot`;
      fs.writeSync(fd, frame, FRAME_HEADER_BYTES, header.pageSize, (pgno - 1) * header.pageSize);
    }
    return undefined;
  } finally {
    fs.closeSync(walFd);
  }
}
