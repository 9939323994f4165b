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
      /** The newest version of each page <= nPage among frames 1..mxFrame. */
      readonly pages: ReadonlyMap<number, Buffer>;
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
 * kept pages may take.
 */
export function readSnapshotFrames(wal: string, header: WalIndexHeader, maxBytes: number): SnapshotFrames {
  const pages = new Map<number, Buffer>();
  if (header.mxFrame === 0) return { ok: true, pages, frames: 0 };
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
          if (!pages.has(pgno) && (pages.size + 1) * header.pageSize > maxBytes) {
            return {
              ok: false,
              reset: false,
              reason: `the snapshot's WAL holds more than ${Math.round(maxBytes / 1048576)} MiB of distinct pages`,
            };
          }
          pages.set(pgno, Buffer.from(frame.subarray(FRAME_HEADER_BYTES)));
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
    return { ok: true, pages, frames: header.mxFrame };
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
