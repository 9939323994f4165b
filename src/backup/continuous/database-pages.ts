import fs from 'node:fs';
import { keptFd } from './kept-fd.js';

/** A read-only descriptor on `database`, kept for the life of the process (see kept-fd.ts). */
export function databaseFd(database: string): number {
  return keptFd(database);
}

/**
 * Pages 1..`pages` of a database as one pinned read transaction sees them: the newest WAL frame of
 * each page at or below the pin (`overlay`), else the database file's page. Correct while the pin
 * is held: checkpoints write the file only with frames at or below the pin (block-copy.md).
 * Reads 1 MiB at a time; `onPage` gets a buffer valid only during the call.
 */
export function* pinnedPages(
  database: string,
  pageSize: number,
  pages: number,
  overlay: ReadonlyMap<number, Buffer>,
): Generator<[number, Buffer]> {
  const fd = databaseFd(database);
  const per = Math.max(1, Math.floor((1 << 20) / pageSize));
  const buf = Buffer.alloc(per * pageSize);
  for (let first = 1; first <= pages; first += per) {
    const count = Math.min(per, pages - first + 1);
    const n = fs.readSync(fd, buf, 0, count * pageSize, (first - 1) * pageSize);
    if (n < count * pageSize) buf.fill(0, n, count * pageSize);
    for (let i = 0; i < count; i++) {
      const pgno = first + i;
      yield [pgno, overlay.get(pgno) ?? buf.subarray(i * pageSize, (i + 1) * pageSize)];
    }
  }
}
