import { createHash } from 'node:crypto';

const pgnoBuf = Buffer.alloc(4);

/**
 * The checksum of one page: the first 64 bits of SHA-1(page number, big-endian || page). Bytes 18
 * and 19 of page 1 (the file's journal mode: WAL on the primary, rollback in a restored copy) are
 * left out, so a restored file checks equal to the primary it came from.
 */
export function pageChecksum(pgno: number, page: Buffer): bigint {
  const hash = createHash('sha1');
  pgnoBuf.writeUInt32BE(pgno, 0);
  hash.update(pgnoBuf);
  if (pgno === 1 && page.length > 20) {
    hash.update(page.subarray(0, 18));
    hash.update(Buffer.alloc(2));
    hash.update(page.subarray(20));
  } else hash.update(page);
  return hash.digest().readBigUInt64BE(0);
}

/**
 * The rolling database checksum (as in LTX): XOR over every page of its page checksum. Keeps one
 * 8-byte checksum per page (2 MiB per GiB of 4 KiB pages) so a changed page is XORed out and its
 * new version in, and pages cut off by a smaller database size are XORed out.
 */
export class DatabaseChecksum {
  #sums: BigUint64Array;
  #pages = 0;
  #total = 0n;

  constructor(capacity = 1024) {
    this.#sums = new BigUint64Array(Math.max(1, capacity));
  }

  /** The checksum of the whole database. */
  get total(): bigint {
    return this.#total;
  }

  /** Pages in the database. */
  get pages(): number {
    return this.#pages;
  }

  /** Sets page `pgno` (1-based) to `page`. */
  set(pgno: number, page: Buffer): void {
    if (pgno > this.#sums.length) {
      const grown = new BigUint64Array(Math.max(pgno, this.#sums.length * 2));
      grown.set(this.#sums);
      this.#sums = grown;
    }
    const sum = pageChecksum(pgno, page);
    this.#total ^= (this.#sums[pgno - 1] ?? 0n) ^ sum;
    this.#sums[pgno - 1] = sum;
    if (pgno > this.#pages) this.#pages = pgno;
  }

  /** Sets the database size to `pages`: pages above it leave the checksum. */
  resize(pages: number): void {
    for (let p = pages + 1; p <= this.#pages; p++) {
      this.#total ^= this.#sums[p - 1] ?? 0n;
      this.#sums[p - 1] = 0n;
    }
    this.#pages = pages;
  }
}

/** A checksum as `ats backups` prints it: 16 hex digits. */
export function formatChecksum(sum: bigint): string {
  return sum.toString(16).padStart(16, '0');
}
