import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import {
  type AttestationInput,
  type AttestationStore,
  openStore,
  StoreError,
  type StoreLimits,
} from '../../dist/store/index.js';
import { refusal, removeDir, tempDir } from '../helpers.js';

/** A real temporary folder; remove it with `cleanup()`. */
export function tempFolder(): { dir: string; cleanup: () => void } {
  const dir = tempDir('ats-store-');
  return { dir, cleanup: () => removeDir(dir) };
}

export const LIMITS: StoreLimits = { maxPerActorContext: 64, maxBatch: 1000 };

/** A store on a fresh temporary database; `cleanup()` closes it and removes the folder. */
export function tempStore(limits: StoreLimits = LIMITS): {
  store: AttestationStore;
  file: string;
  dir: string;
  cleanup: () => void;
} {
  const { dir, cleanup } = tempFolder();
  const file = path.join(dir, 'ats.db');
  const store = openStore(file, limits);
  return {
    store,
    file,
    dir,
    cleanup: () => {
      store.close();
      cleanup();
    },
  };
}

/** A valid attestation, changed by `overrides`. */
export function sample(overrides: Partial<AttestationInput> = {}): AttestationInput {
  return { subjects: ['alice'], predicates: ['member'], contexts: ['team'], actors: ['bob'], ...overrides };
}

/** An ISO timestamp `n` minutes into 2024. */
export function minute(n: number): string {
  return new Date(Date.UTC(2024, 0, 1, 0, n)).toISOString();
}

/** Runs `fn` on a separate read-only connection to `file`. */
export function inspect<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Rows in `attestations`, read past the store. */
export function rowCount(file: string): number {
  return inspect(file, (db) => Number(db.prepare('SELECT count(*) FROM attestations').pluck().get()));
}

/** The StoreError `fn` throws, failing the test when it throws anything else or nothing. */
export function storeError(fn: () => unknown): StoreError {
  return refusal(fn, StoreError);
}

const KINDS = ['subjects', 'predicates', 'contexts', 'actors'] as const;

/**
 * Checks that every derived table agrees with `attestations`: value and pair indexes hold exactly
 * the entries the rows imply, terms and their reference counts match, and the counters are exact.
 */
export function expectConsistent(file: string): void {
  inspect(file, (db) => {
    const one = (sql: string): number => Number(db.prepare(sql).pluck().get());
    const counters = new Map(
      db
        .prepare<[], { name: string; n: number }>('SELECT name, n FROM counters')
        .all()
        .map((r) => [r.name, r.n]),
    );
    expect(counters.get('attestations')).toBe(one('SELECT count(*) FROM attestations'));
    KINDS.forEach((kind, k) => {
      const implied = `SELECT DISTINCT a.seq AS attestation, a.ts AS ts, j.value AS value FROM attestations a, json_each(a.${kind}) j`;
      expect(one(`SELECT count(*) FROM ${kind}`), kind).toBe(one(`SELECT count(*) FROM (${implied})`));
      expect(
        one(`SELECT count(*) FROM (${implied}) i LEFT JOIN terms t ON t.kind = ${k} AND t.value = i.value
        LEFT JOIN ${kind} x ON x.term = t.term AND x.ts = i.ts AND x.attestation = i.attestation WHERE x.term IS NULL`),
        `${kind} missing entries`,
      ).toBe(0);
      expect(one(`SELECT count(*) FROM terms WHERE kind = ${k}`), `${kind} terms`).toBe(
        one(`SELECT count(DISTINCT value) FROM (${implied})`),
      );
      expect(
        one(
          `SELECT count(*) FROM terms t WHERE kind = ${k} AND refs != (SELECT count(*) FROM ${kind} x WHERE x.term = t.term)`,
        ),
        `${kind} refs`,
      ).toBe(0);
      expect(counters.get(kind), `${kind} counter`).toBe(one(`SELECT count(*) FROM terms WHERE kind = ${k}`));
    });
    const pairs = `SELECT count(*) FROM (SELECT DISTINCT a.seq, x.value, y.value FROM attestations a, json_each(a.actors) x, json_each(a.contexts) y)`;
    expect(one('SELECT count(*) FROM actor_contexts')).toBe(one(pairs));
    expect(
      one(
        'SELECT count(*) FROM actor_contexts p LEFT JOIN attestations a ON a.seq = p.attestation AND a.ts = p.ts WHERE a.seq IS NULL',
      ),
    ).toBe(0);
  });
}
