import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { BackupError, reasonOf } from './errors.js';

/**
 * A database's identity. Each database ats creates or restores carries a lineage: a random id,
 * kept in a small table the backup part owns (`ats_lineage`, one row per lineage the data went
 * through, newest last). A restored database starts a new lineage whose parent is the backup's,
 * so its history still names the lineage of the backups it came from.
 */
export interface Lineage {
  readonly id: string;
  readonly parent: string | undefined;
  readonly createdAt: string;
  /** Every lineage id this data went through, oldest first; the last is `id`. */
  readonly history: readonly string[];
}

const TABLE = 'ats_lineage';
const SCHEMA = `CREATE TABLE IF NOT EXISTS ${TABLE} (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT, created_at TEXT NOT NULL)`;

/** A connection as far as lineage needs it (better-sqlite3's Database satisfies it). */
interface Connection {
  prepare(sql: string): { all(...params: unknown[]): unknown[]; run(...params: unknown[]): unknown };
  exec(sql: string): unknown;
  transaction<F extends () => unknown>(fn: F): { immediate(): ReturnType<F> };
}

/**
 * The lineage of `database`, giving it a new one first when it has none (creating the file when
 * it does not exist). Called by the service before it opens its store.
 */
export function ensureLineage(database: string): Lineage {
  let db: Database.Database | undefined;
  try {
    db = new Database(database, { timeout: 5_000 });
    const conn = db;
    return conn
      .transaction(() => {
        conn.exec(SCHEMA);
        return readFrom(conn) ?? startLineage(conn, undefined);
      })
      .immediate();
  } catch (err) {
    throw new BackupError('ATS_BACKUP_SOURCE', 'lineage', database, reasonOf(err), { cause: err });
  } finally {
    db?.close();
  }
}

/** The lineage recorded in `file` (opened read-only), or undefined when it has none. */
export function readLineage(file: string): Lineage | undefined {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const exists = db.prepare('SELECT 1 FROM sqlite_schema WHERE type = ? AND name = ?').get('table', TABLE);
    return exists ? readFrom(db) : undefined;
  } catch (err) {
    throw new BackupError('ATS_BACKUP_SOURCE', 'read lineage', file, reasonOf(err), { cause: err });
  } finally {
    db?.close();
  }
}

/** Gives the open database a new lineage whose parent is its current one (after a restore). */
export function startChildLineage(conn: Connection): Lineage {
  return conn
    .transaction(() => {
      conn.exec(SCHEMA);
      return startLineage(conn, readFrom(conn)?.id);
    })
    .immediate();
}

function startLineage(conn: Connection, parent: string | undefined): Lineage {
  conn
    .prepare(`INSERT INTO ${TABLE} (id, parent, created_at) VALUES (?, ?, ?)`)
    .run(randomUUID(), parent ?? null, new Date().toISOString());
  const lineage = readFrom(conn);
  if (!lineage) throw new Error('lineage row not written');
  return lineage;
}

function readFrom(conn: Connection): Lineage | undefined {
  const rows = conn.prepare(`SELECT id, parent, created_at FROM ${TABLE} ORDER BY seq`).all() as {
    id: string;
    parent: string | null;
    created_at: string;
  }[];
  const last = rows.at(-1);
  if (!last) return undefined;
  return Object.freeze({
    id: last.id,
    parent: last.parent ?? undefined,
    createdAt: last.created_at,
    history: Object.freeze(rows.map((r) => r.id)),
  });
}
