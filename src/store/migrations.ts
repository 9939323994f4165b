import type Database from 'better-sqlite3';
import { KINDS } from './attestation.js';
import { StoreError } from './errors.js';

/** One step of the schema; `version` is what `PRAGMA user_version` reads once it is applied. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

// Each value kind gets an index table keyed (term, ts, attestation): a lookup by value walks its
// entries already in query order, and removing one entry is a primary-key delete.
const valueTables = KINDS.map(
  (kind) => `
  CREATE TABLE ${kind} (
    term INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    attestation INTEGER NOT NULL,
    PRIMARY KEY (term, ts, attestation)
  ) WITHOUT ROWID;`,
).join('\n');

/** Every migration, oldest first. Never edit a released one: append a new step. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'attestations, terms, value and pair indexes, counters',
    sql: `
      -- seq is the rowid: insertion order, the tie-break after timestamp. The four value lists are
      -- kept here as JSON arrays so get() reads one row.
      CREATE TABLE attestations (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        subjects TEXT NOT NULL,
        predicates TEXT NOT NULL,
        contexts TEXT NOT NULL,
        actors TEXT NOT NULL,
        source TEXT NOT NULL,
        attributes TEXT NOT NULL
      );
      CREATE INDEX attestations_by_time ON attestations (ts);

      -- Each distinct value once, with how many attestations use it: the index tables hold small
      -- integers instead of repeated strings, and distinct counts are kept, not scanned.
      CREATE TABLE terms (
        term INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        value TEXT NOT NULL,
        refs INTEGER NOT NULL,
        UNIQUE (kind, value)
      );
      ${valueTables}

      -- One row per (actor, context) of each attestation, newest last: enforce_limits reads only
      -- the pair's own entries, however many attestations the actor or context has elsewhere.
      CREATE TABLE actor_contexts (
        actor INTEGER NOT NULL,
        context INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        attestation INTEGER NOT NULL,
        PRIMARY KEY (actor, context, ts, attestation)
      ) WITHOUT ROWID;

      CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO counters (name, n) VALUES ('attestations', 0), ${KINDS.map((k) => `('${k}', 0)`).join(', ')};
    `,
  },
  {
    version: 2,
    name: 'eviction backlog',
    sql: `
      -- (actor, context) pairs that may hold more than max_per_actor_context: a write evicts a bounded
      -- number of rows and records the pairs it did not finish here, in its own transaction, so the
      -- backlog survives a crash; the store drains it in bounded slices. A pair is removed from it
      -- once it holds no excess.
      CREATE TABLE eviction_backlog (
        actor INTEGER NOT NULL,
        context INTEGER NOT NULL,
        PRIMARY KEY (actor, context)
      ) WITHOUT ROWID;
    `,
  },
]);

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** The database's schema version. */
export function schemaVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/** Refuses a database written by a newer ats, before anything touches it. */
export function checkNotNewer(db: Database.Database, file: string): void {
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      'ATS_STORE_SCHEMA',
      `open ${file}: database schema version ${version} is newer than this ats knows (${SCHEMA_VERSION}); use a newer ats`,
    );
  }
}

/**
 * Applies the missing migrations in order, each in its own IMMEDIATE transaction that re-reads
 * the version first, so two processes opening a new database at once apply each step once.
 */
export function migrate(db: Database.Database, file: string): void {
  for (const migration of MIGRATIONS) {
    if (schemaVersion(db) >= migration.version) continue;
    const step = db.transaction(() => {
      checkNotNewer(db, file);
      if (schemaVersion(db) >= migration.version) return;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    });
    try {
      step.immediate();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'ATS_STORE_OPEN',
        `migrate ${file} to version ${migration.version} (${migration.name}): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}
