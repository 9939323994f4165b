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

/**
 * Checks a database file read-only with `PRAGMA quick_check` ('quick') or `integrity_check`
 * ('full'). Never throws for a bad file: a file that does not open is a failed check.
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
    return done(false, [reasonOf(err)]);
  } finally {
    db?.close();
  }
}
