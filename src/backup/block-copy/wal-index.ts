import fs from 'node:fs';
import os from 'node:os';

// The wal-index header at the start of `-shm` (SQLite wal.c: struct WalIndexHdr, 48 bytes, two
// copies, then struct WalCkptInfo), in host byte order. Stable since SQLite 3.7.0.
const HDR_BYTES = 48;
const SHM_HEADER_BYTES = 136;
export const WAL_INDEX_VERSION = 3007000;

/** One wal-index header: the snapshot a reader that read it would see. */
export interface WalIndexHeader {
  readonly version: number;
  readonly change: number;
  readonly bigEndCksum: boolean;
  readonly pageSize: number;
  /** Index of the last valid (commit) frame of the WAL. */
  readonly mxFrame: number;
  /** Size of the database in pages at that commit. */
  readonly nPage: number;
  /** Cumulative checksum of the WAL through frame mxFrame. */
  readonly frameCksum: readonly [number, number];
  /** The WAL header's salts, as the raw 8 bytes the WAL file holds. */
  readonly salt: Buffer;
  /** The 48 bytes it was decoded from, to compare two reads. */
  readonly raw: Buffer;
}

/** The checkpoint progress that follows the header (struct WalCkptInfo). */
export interface CheckpointInfo {
  readonly nBackfill: number;
  readonly nBackfillAttempted: number;
}

/** A read of the header, or why it cannot be trusted. */
export type ShmRead =
  | { readonly ok: true; readonly header: WalIndexHeader; readonly ckpt: CheckpointInfo }
  | { readonly ok: false; readonly reason: string };

/** Why this host cannot read `-shm` directly, or undefined when it can (it is in host byte order). */
export function shmUnsupported(): string | undefined {
  return os.endianness() === 'LE'
    ? undefined
    : 'the -shm is read as little-endian and this host is big-endian';
}

/** Reads the wal-index header through `fd` (pread: no open, no close) and checks it as SQLite does. */
export function readShm(fd: number): ShmRead {
  const buf = Buffer.alloc(SHM_HEADER_BYTES);
  const got = fs.readSync(fd, buf, 0, SHM_HEADER_BYTES, 0);
  if (got < SHM_HEADER_BYTES)
    return { ok: false, reason: `-shm holds ${got} bytes, under the 136-byte header` };
  // walIndexTryHdr(): the two copies must match, isInit be set and the checksum hold.
  if (!buf.subarray(0, HDR_BYTES).equals(buf.subarray(HDR_BYTES, 2 * HDR_BYTES))) {
    return { ok: false, reason: 'torn read: the two header copies differ' };
  }
  if (buf[12] === 0) return { ok: false, reason: 'the wal-index is not initialised' };
  const [c0, c1] = checksum(buf.subarray(0, 40), true, [0, 0]);
  if (c0 !== buf.readUInt32LE(40) || c1 !== buf.readUInt32LE(44)) {
    return { ok: false, reason: 'the wal-index header checksum does not match' };
  }
  const size = buf.readUInt16LE(14);
  const header: WalIndexHeader = {
    version: buf.readUInt32LE(0),
    change: buf.readUInt32LE(8),
    bigEndCksum: buf[13] !== 0,
    pageSize: (size & 0xfe00) + ((size & 1) << 16),
    mxFrame: buf.readUInt32LE(16),
    nPage: buf.readUInt32LE(20),
    frameCksum: [buf.readUInt32LE(24), buf.readUInt32LE(28)],
    salt: Buffer.from(buf.subarray(32, 40)),
    raw: Buffer.from(buf.subarray(0, HDR_BYTES)),
  };
  return {
    ok: true,
    header,
    ckpt: { nBackfill: buf.readUInt32LE(96), nBackfillAttempted: buf.readUInt32LE(128) },
  };
}

/**
 * SQLite's WAL checksum (wal.c walChecksumBytes): over 32-bit words, little-endian when
 * `littleEndian`, chained from `seed`. `data.length` is a multiple of 8.
 */
export function checksum(
  data: Buffer,
  littleEndian: boolean,
  seed: readonly [number, number],
): [number, number] {
  let s1 = seed[0];
  let s2 = seed[1];
  const n = data.length >>> 2;
  if (littleEndian && data.byteOffset % 4 === 0) {
    // Aligned and in host order (the host is little-endian, see shmUnsupported): word view.
    const w = new Uint32Array(data.buffer, data.byteOffset, n);
    for (let i = 0; i < n; i += 2) {
      s1 = (s1 + (w[i] as number) + s2) >>> 0;
      s2 = (s2 + (w[i + 1] as number) + s1) >>> 0;
    }
  } else {
    const read = littleEndian ? data.readUInt32LE.bind(data) : data.readUInt32BE.bind(data);
    for (let i = 0; i < n; i += 2) {
      s1 = (s1 + read(i << 2) + s2) >>> 0;
      s2 = (s2 + read((i + 1) << 2) + s1) >>> 0;
    }
  }
  return [s1, s2];
}
