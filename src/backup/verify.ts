import fs from 'node:fs';
import Database from 'better-sqlite3';
import { reasonOf } from './errors.js';
import type { VerifyMode } from './options.js';

/** The outcome of checking one database file. */
export interface VerifyOutcome {
  readonly mode: VerifyMode;
  readonly ok: boolean;
  readonly ms: number;
  /** What SQLite reported, empty when ok. */
  readonly problems: readonly string[];
}

const MAGIC = 'SQLite format 3\0';

/**
 * Checks a database file read-only: first its shape (an SQLite header, and a size of exactly
 * page_count x page_size, which a truncated or padded file fails; SQLite itself treats a 0-byte
 * file as an empty database and anything readable as a file), then `PRAGMA quick_check` ('quick')
 * or `integrity_check` ('full'). 'off' checks the shape only. Never throws for a bad file.
 */
export function verifyDatabase(file: string, mode: VerifyMode): VerifyOutcome {
  const started = performance.now();
  const done = (ok: boolean, problems: string[]): VerifyOutcome =>
    Object.freeze({
      mode,
      ok,
      ms: Math.round(performance.now() - started),
      problems: Object.freeze(problems),
    });
  const shape = checkShape(file);
  if (shape !== undefined) return done(false, [shape]);
  if (mode === 'off') return done(true, []);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma(mode === 'full' ? 'integrity_check(100)' : 'quick_check(100)', {
      simple: false,
    }) as Record<string, string>[];
    // One row can hold several lines ("*** in database main ***\nTree 4 page 4: ..."): one problem each.
    const messages = rows
      .flatMap((row) => String(Object.values(row)[0]).split('\n'))
      .filter((m) => m.trim() !== '');
    const ok = messages.length === 1 && messages[0] === 'ok';
    return done(ok, ok ? [] : messages);
  } catch (err) {
    return done(false, [explainReadOnly(file, reasonOf(err))]);
  } finally {
    db?.close();
  }
}

/**
 * SQLite answers "attempt to write a readonly database" when a user who may read a WAL-mode
 * database but not write its folder opens it: reading needs `<db>-shm`, which it cannot create.
 * Say so, and what to do.
 */
export function explainReadOnly(file: string, reason: string): string {
  if (!/READONLY_(DIRECTORY|CANTINIT|CANTLOCK)|attempt to write a readonly database/.test(reason))
    return reason;
  return (
    `${reason}: ${file} is a WAL-mode database and reading it needs ${file}-shm, which this user ` +
    `(uid ${process.getuid?.() ?? '?'}) cannot create in its folder; run as the database's owner or give this user write access to the folder`
  );
}

/** What is wrong with the file's header and size, or undefined when they are those of a database. */
export function checkShape(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 'the file is empty (0 bytes), not a database';
    const header = Buffer.alloc(100);
    const read = fs.readSync(fd, header, 0, 100, 0);
    if (read < 100 || header.toString('latin1', 0, 16) !== MAGIC)
      return 'no SQLite header: not a database file';
    const rawPageSize = header.readUInt16BE(16);
    const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0)
      return `bad page size ${rawPageSize} in the header`;
    // A WAL may hold pages past the end of the main file: its size is checked only without one.
    if (walBytes(file) > 0) return undefined;
    const pageCount = header.readUInt32BE(28);
    const valid = header.readUInt32BE(92) === header.readUInt32BE(24); // header's page count is current
    if (size % pageSize !== 0 || (valid && pageCount > 0 && size !== pageCount * pageSize)) {
      return `size ${size} bytes is not page_count x page_size (${valid ? pageCount : size / pageSize} x ${pageSize}): truncated or not a database`;
    }
    return undefined;
  } catch (err) {
    return reasonOf(err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function walBytes(file: string): number {
  return fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0;
}
