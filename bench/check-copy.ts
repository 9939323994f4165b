import Database from 'better-sqlite3';
import { nowMs } from './clock.js';

/** The bench's own check of a contender's copy. */
export interface CopyCheck {
  readonly kind: 'quick_check' | 'integrity_check';
  readonly ok: boolean;
  readonly ms: number;
  /** What SQLite said when not ok. */
  readonly detail?: string | undefined;
}

/** Opens `file` read-only and runs `PRAGMA quick_check` or `integrity_check` on it, timed. */
export function checkCopy(file: string, kind: CopyCheck['kind']): CopyCheck {
  const started = nowMs();
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma(`${kind}(20)`, { simple: false }) as Record<string, unknown>[];
    const messages = rows.map((row) => String(Object.values(row)[0]));
    const ok = messages.length === 1 && messages[0] === 'ok';
    return {
      kind,
      ok,
      ms: Math.round(nowMs() - started),
      detail: ok ? undefined : messages.slice(0, 3).join('; '),
    };
  } catch (err) {
    return {
      kind,
      ok: false,
      ms: Math.round(nowMs() - started),
      detail: err instanceof Error ? err.message : String(err),
    };
  } finally {
    db?.close();
  }
}
