import fs from 'node:fs';
import { keptFd } from './kept-fd.js';

/** What the wal-index header in -shm says (wal.c WalIndexHdr, plus WalCkptInfo.nBackfill). */
export interface WalIndexState {
  readonly mxFrame: number;
  readonly nPage: number;
  readonly salt1: number;
  readonly salt2: number;
  /** Frames already copied into the database file by checkpoints. */
  readonly nBackfill: number;
}

/**
 * Reads the wal-index header of `database` from its -shm (host byte order). Returns undefined when
 * the two copies of the header differ (a writer is updating it: read again) or it is not initialised.
 * Only for a database some connection of this process has open (so -shm exists and stays).
 */
export function readWalIndex(database: string): WalIndexState | undefined {
  const buf = Buffer.alloc(100);
  const n = fs.readSync(keptFd(`${database}-shm`), buf, 0, 100, 0);
  if (n < 100) return undefined;
  if (!buf.subarray(0, 48).equals(buf.subarray(48, 96))) return undefined;
  if (buf[12] !== 1) return undefined;
  const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  // aSalt is kept as the WAL header's big-endian bytes, not in host order.
  return {
    mxFrame: u32(16),
    nPage: u32(20),
    salt1: buf.readUInt32BE(32),
    salt2: buf.readUInt32BE(36),
    nBackfill: u32(96),
  };
}
