import type Database from 'better-sqlite3';
import { KINDS, type Kind } from './attestation.js';
import { StoreError } from './errors.js';
import type { ValidAttestation } from './validate-input.js';

type Counter = 'attestations' | Kind;
/** An (actor, context) pair, as term ids. */
type Pair = readonly [actor: number, context: number];
/** What a transaction may still evict, and what it has. */
interface Budget {
  left: number;
  attestations: number;
  rows: number;
}
/** An attestation's timestamp and distinct values, as stored. */
type ParsedValues = { readonly ts: number } & Record<Kind, ReadonlySet<string>>;

/** What one write transaction evicted, and whether pairs wait in the backlog after it. */
export interface Eviction {
  readonly attestations: number;
  /** Rows removed: one per attestation, one per distinct value, one per (actor, context) pair. */
  readonly rows: number;
  readonly backlog: boolean;
}

// The cheapest attestation: its row, one value of each kind, one pair.
const MIN_REMOVAL_ROWS = 1 + KINDS.length + 1;
const BACKLOG_PAIRS_PER_SLICE = 256;
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
      pairSize: db
        .prepare<[number, number], number>(
          'SELECT count(*) FROM actor_contexts WHERE actor = ? AND context = ?',
        )
        .pluck(),
      // The pair's oldest entries (timestamp, then insertion order): the first to go past the limit.
      oldest: db
        .prepare<[number, number, number], number>(
          'SELECT attestation FROM actor_contexts WHERE actor = ? AND context = ? ORDER BY ts, attestation LIMIT ?',
        )
        .pluck(),
      addBacklog: db.prepare<[number, number]>(
        'INSERT INTO eviction_backlog (actor, context) VALUES (?, ?) ON CONFLICT DO NOTHING',
      ),
      backlogPairs: db.prepare<[number], { actor: number; context: number }>(
        'SELECT actor, context FROM eviction_backlog LIMIT ?',
      ),
      dropBacklog: db.prepare<[number, number]>(
        'DELETE FROM eviction_backlog WHERE actor = ? AND context = ?',
      ),
      backlogLeft: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM eviction_backlog)').pluck(),
      backlogSize: db.prepare<[], number>('SELECT count(*) FROM eviction_backlog').pluck(),
      bump: db.prepare<[number, string]>('UPDATE counters SET n = n + ? WHERE name = ?'),
    };
    this.#tx = db.transaction((fn: () => void) => {
      fn();
      for (const [name, delta] of this.#deltas) if (delta !== 0) this.#s.bump.run(delta, name);
    });
  }

  /**
   * Inserts a validated batch and enforces the limits of the pairs it touched, in one transaction,
   * evicting at most `maxEvictRows` rows: the pairs it could not finish go to the eviction backlog
   * (same transaction), for `evictBacklog` to finish.
   */
  readonly put = (batch: readonly ValidAttestation[], maxEvictRows: number): Eviction => {
    let eviction: Eviction = { attestations: 0, rows: 0, backlog: false };
    this.#transaction(() => {
      const touched = new Map<string, Pair>();
      batch.forEach((attestation, index) => {
        this.#insert(attestation, index, touched);
      });
      const budget = { left: maxEvictRows, attestations: 0, rows: 0 };
      let backlog = false;
      for (const pair of touched.values()) {
        // Once the budget is spent, the remaining pairs are only recorded: checking them costs a walk each.
        if (budget.left <= 0 || !this.#enforceLimit(pair, budget, false)) {
          this.#s.addBacklog.run(pair[0], pair[1]);
          backlog = true;
        }
      }
      eviction = { attestations: budget.attestations, rows: budget.rows, backlog };
    });
    return eviction;
  };

  /**
   * One slice of the eviction backlog, in one transaction: evicts the oldest excess of backlog pairs,
   * at most `maxEvictRows` rows (or a single attestation larger than that), and drops each pair
   * that is back within the limit. `backlog` says whether pairs are left.
   */
  readonly evictBacklog = (maxEvictRows: number): Eviction => {
    let eviction: Eviction = { attestations: 0, rows: 0, backlog: false };
    this.#transaction(() => {
      const budget = { left: maxEvictRows, attestations: 0, rows: 0 };
      // Checking a pair costs a walk of its entries even when nothing goes: a bounded number per slice.
      for (const { actor, context } of this.#s.backlogPairs.all(BACKLOG_PAIRS_PER_SLICE)) {
        if (budget.left <= 0 || !this.#enforceLimit([actor, context], budget, true)) break;
        this.#s.dropBacklog.run(actor, context);
      }
      eviction = {
        attestations: budget.attestations,
        rows: budget.rows,
        backlog: this.#s.backlogLeft.get() === 1,
      };
    });
    return eviction;
  };

  /** Whether any pair waits in the eviction backlog. */
  readonly hasBacklog = (): boolean => this.#s.backlogLeft.get() === 1;

  /** Pairs waiting in the eviction backlog. */
  readonly backlogSize = (): number => this.#s.backlogSize.get() ?? 0;

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

  #insert(a: ValidAttestation, index: number, touched: Map<string, Pair>): void {
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
    this.#removeRow(seq, parseValues(row));
    return true;
  }

  #removeRow(seq: number, row: ParsedValues): void {
    const terms = {} as Record<Kind, number[]>;
    KINDS.forEach((kind, k) => {
      terms[kind] = [];
      for (const value of row[kind]) {
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
  }

  /**
   * Removes the pair's oldest entries past the limit while `budget` allows; true when the pair is
   * within the limit afterwards. With `atLeastOne`, the first removal may exceed the budget (progress
   * for an attestation larger than a slice); without, the budget is never exceeded.
   */
  #enforceLimit([actor, context]: Pair, budget: Budget, atLeastOne: boolean): boolean {
    const excess = this.#s.pairSize.get(actor, context)! - this.#maxPerActorContext;
    if (excess <= 0) return true;
    // Each removal is at least MIN_REMOVAL_ROWS rows, so the budget cannot take more than this many.
    const take = Math.min(excess, Math.floor(budget.left / MIN_REMOVAL_ROWS) + 1);
    let removed = 0;
    for (const seq of this.#s.oldest.all(actor, context, take)) {
      const stored = this.#s.storedValues.get(seq);
      if (stored === undefined)
        throw new Error(`pair entry ${actor}:${context} names a missing attestation ${seq}`);
      const values = parseValues(stored);
      const rows = removalRows(values);
      const first = atLeastOne && budget.rows === 0;
      if (rows > budget.left && !first) {
        budget.left = 0; // the rest waits for a slice: checking more pairs now would cost a walk each
        return false;
      }
      this.#removeRow(seq, values);
      budget.left -= rows;
      budget.rows += rows;
      budget.attestations++;
      removed++;
    }
    return removed === excess;
  }

  #count(name: Counter, delta: number): void {
    this.#deltas.set(name, (this.#deltas.get(name) ?? 0) + delta);
  }
}

function parseValues(row: StoredValues): ParsedValues {
  const values = {} as Record<Kind, ReadonlySet<string>>;
  for (const kind of KINDS) values[kind] = new Set(JSON.parse(row[kind]) as string[]);
  return { ts: row.ts, ...values };
}

/** The rows removing an attestation deletes, counted as the input budget counts what a put writes. */
function removalRows(v: ParsedValues): number {
  return (
    1 +
    v.subjects.size +
    v.predicates.size +
    v.contexts.size +
    v.actors.size +
    v.actors.size * v.contexts.size
  );
}
