import type Database from 'better-sqlite3';
import { KINDS, type Kind } from './attestation.js';
import { StoreError } from './errors.js';
import type { ValidAttestation } from './validate-input.js';

type Counter = 'attestations' | Kind;
interface TermRef {
  term: number;
  refs: number;
}
interface StoredValues {
  ts: number;
  subjects: string;
  predicates: string;
  contexts: string;
  actors: string;
}

/**
 * Every write of the store: insert, delete and enforce_limits, keeping the term, value-index,
 * pair-index and counter tables in step with `attestations`. Statements are prepared once.
 */
export class AttestationWriter {
  readonly #maxPerActorContext: number;
  readonly #deltas = new Map<Counter, number>();
  readonly #s;
  readonly #tx: Database.Transaction<(fn: () => void) => void>;

  constructor(db: Database.Database, maxPerActorContext: number) {
    this.#maxPerActorContext = maxPerActorContext;
    const perKind = <T>(make: (kind: Kind) => T): Record<Kind, T> =>
      Object.fromEntries(KINDS.map((kind) => [kind, make(kind)])) as Record<Kind, T>;
    this.#s = {
      idExists: db.prepare<[string], number>('SELECT 1 FROM attestations WHERE id = ?').pluck(),
      seqOf: db.prepare<[string], number>('SELECT seq FROM attestations WHERE id = ?').pluck(),
      insertRow: db.prepare<[string, number, string, string, string, string, string, string]>(
        'INSERT INTO attestations (id, ts, subjects, predicates, contexts, actors, source, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      storedValues: db.prepare<[number], StoredValues>(
        'SELECT ts, subjects, predicates, contexts, actors FROM attestations WHERE seq = ?',
      ),
      deleteRow: db.prepare<[number]>('DELETE FROM attestations WHERE seq = ?'),
      addTerm: db.prepare<[number, string], TermRef>(
        'INSERT INTO terms (kind, value, refs) VALUES (?, ?, 1) ON CONFLICT (kind, value) DO UPDATE SET refs = refs + 1 RETURNING term, refs',
      ),
      dropTerm: db.prepare<[number, string], TermRef>(
        'UPDATE terms SET refs = refs - 1 WHERE kind = ? AND value = ? RETURNING term, refs',
      ),
      deleteTerm: db.prepare<[number]>('DELETE FROM terms WHERE term = ?'),
      addEntry: perKind((kind) =>
        db.prepare<[number, number, number]>(`INSERT INTO ${kind} (term, ts, attestation) VALUES (?, ?, ?)`),
      ),
      deleteEntry: perKind((kind) =>
        db.prepare<[number, number, number]>(
          `DELETE FROM ${kind} WHERE term = ? AND ts = ? AND attestation = ?`,
        ),
      ),
      addPair: db.prepare<[number, number, number, number]>(
        'INSERT INTO actor_contexts (actor, context, ts, attestation) VALUES (?, ?, ?, ?)',
      ),
      deletePair: db.prepare<[number, number, number, number]>(
        'DELETE FROM actor_contexts WHERE actor = ? AND context = ? AND ts = ? AND attestation = ?',
      ),
      // Walks the pair's entries newest first and returns those past the limit: at most a batch more.
      excess: db
        .prepare<[number, number, number], number>(
          'SELECT attestation FROM actor_contexts WHERE actor = ? AND context = ? ORDER BY ts DESC, attestation DESC LIMIT -1 OFFSET ?',
        )
        .pluck(),
      bump: db.prepare<[number, string]>('UPDATE counters SET n = n + ? WHERE name = ?'),
    };
    this.#tx = db.transaction((fn: () => void) => {
      fn();
      for (const [name, delta] of this.#deltas) if (delta !== 0) this.#s.bump.run(delta, name);
    });
  }

  /** Inserts a validated batch and enforces the limits of every pair it touched, in one transaction. */
  readonly put = (batch: readonly ValidAttestation[]): void => {
    this.#transaction(() => {
      const touched = new Map<string, readonly [number, number]>();
      batch.forEach((attestation, index) => {
        this.#insert(attestation, index, touched);
      });
      for (const [actor, context] of touched.values()) this.#enforceLimit(actor, context);
    });
  };

  /** Deletes the attestation with this id; false when there is none. */
  readonly delete = (id: string): boolean => {
    let deleted = false;
    this.#transaction(() => {
      const seq = this.#s.seqOf.get(id);
      if (seq !== undefined) deleted = this.#remove(seq);
    });
    return deleted;
  };

  // IMMEDIATE: take the write lock up front, so a read never has to be upgraded (and fail BUSY).
  #transaction(fn: () => void): void {
    this.#deltas.clear();
    this.#tx.immediate(fn);
  }

  #insert(a: ValidAttestation, index: number, touched: Map<string, readonly [number, number]>): void {
    if (this.#s.idExists.get(a.id) !== undefined) {
      throw new StoreError(
        'ATS_STORE_INVALID',
        `attestation ${index}: id ${JSON.stringify(a.id)} already exists`,
        {
          index,
          field: 'id',
        },
      );
    }
    const { values: v } = a;
    const seq = Number(
      this.#s.insertRow.run(
        a.id,
        a.ts,
        JSON.stringify(v.subjects),
        JSON.stringify(v.predicates),
        JSON.stringify(v.contexts),
        JSON.stringify(v.actors),
        a.source,
        a.attributes,
      ).lastInsertRowid,
    );
    this.#count('attestations', 1);
    const terms = {} as Record<Kind, number[]>;
    KINDS.forEach((kind, k) => {
      terms[kind] = [];
      for (const value of new Set(v[kind])) {
        const ref = this.#s.addTerm.get(k, value);
        if (ref === undefined) throw new Error(`term ${kind} ${value} was not stored`);
        if (ref.refs === 1) this.#count(kind, 1);
        this.#s.addEntry[kind].run(ref.term, a.ts, seq);
        terms[kind].push(ref.term);
      }
    });
    for (const actor of terms.actors) {
      for (const context of terms.contexts) {
        this.#s.addPair.run(actor, context, a.ts, seq);
        touched.set(`${actor}:${context}`, [actor, context]);
      }
    }
  }

  #remove(seq: number): boolean {
    const row = this.#s.storedValues.get(seq);
    if (row === undefined) return false;
    const terms = {} as Record<Kind, number[]>;
    KINDS.forEach((kind, k) => {
      terms[kind] = [];
      for (const value of new Set(JSON.parse(row[kind]) as string[])) {
        const ref = this.#s.dropTerm.get(k, value);
        if (ref === undefined) continue; // nothing indexed for it: nothing to remove
        this.#s.deleteEntry[kind].run(ref.term, row.ts, seq);
        if (ref.refs <= 0) {
          this.#s.deleteTerm.run(ref.term);
          this.#count(kind, -1);
        }
        terms[kind].push(ref.term);
      }
    });
    for (const actor of terms.actors) {
      for (const context of terms.contexts) this.#s.deletePair.run(actor, context, row.ts, seq);
    }
    this.#s.deleteRow.run(seq);
    this.#count('attestations', -1);
    return true;
  }

  #enforceLimit(actor: number, context: number): void {
    for (const seq of this.#s.excess.all(actor, context, this.#maxPerActorContext)) this.#remove(seq);
  }

  #count(name: Counter, delta: number): void {
    this.#deltas.set(name, (this.#deltas.get(name) ?? 0) + delta);
  }
}
