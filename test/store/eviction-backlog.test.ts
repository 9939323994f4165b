import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AttestationInput,
  type AttestationStore,
  EVICTION_LIMITS,
  type EvictionEvent,
  openStore,
} from '../../dist/store/index.js';
import { waitFor } from '../helpers.js';
import { expectConsistent, inspect, minute, tempFolder } from './temp-store.js';

// enforce_limits' worst case under the input budget (issue 11): with max_per_actor_context = 1, one
// 256-pair attestation whose pairs each already hold an older 256-pair attestation. Before the
// eviction budget, the put removed all 256 of them (131,841 rows) in its own transaction.
const MAX_ROWS = EVICTION_LIMITS.maxRowsPerTransaction;
const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const INDEX_TABLES = ['attestations', 'subjects', 'predicates', 'contexts', 'actors', 'actor_contexts'];

/** Every row of the attestation and index tables: what the eviction budget counts. */
function indexRows(file: string): number {
  return inspect(file, (db) =>
    INDEX_TABLES.reduce((n, t) => n + Number(db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()), 0),
  );
}

/** 256 attestations, each with 256 pairs (actor x, contexts shared-k and 255 of its own), none over the limit. */
function seedOld(store: AttestationStore, count = 256): void {
  for (let k = 0; k < count; k += 8) {
    store.put(
      Array.from({ length: Math.min(8, count - k) }, (_, j) => ({
        id: `old-${k + j}`,
        subjects: [`old-${k + j}`],
        predicates: ['p'],
        contexts: [`shared-${k + j}`, ...range(`own-${k + j}`, 255)],
        actors: ['x'],
        timestamp: minute(k + j),
      })),
    );
  }
}

/** The attestation that pushes each old one out of its shared pair. */
const NEWCOMER: AttestationInput = {
  id: 'new',
  subjects: ['new'],
  predicates: ['p'],
  contexts: range('shared', 256),
  actors: ['x'],
  timestamp: minute(1000),
};
// Its rows: itself, one subject, one predicate, 256 contexts, one actor, 256 pairs.
const NEWCOMER_ROWS = 1 + 1 + 1 + 256 + 1 + 256;
// An old attestation's rows: itself, one subject, one predicate, 256 contexts, one actor, 256 pairs.
const OLD_ROWS = 1 + 1 + 1 + 256 + 1 + 256;

let dir: string;
let cleanup: () => void;
const opened: AttestationStore[] = [];
const open = (maxPerActorContext: number, onEviction?: (e: EvictionEvent) => void): AttestationStore => {
  const store = openStore(path.join(dir, 'ats.db'), { maxPerActorContext, maxBatch: 1000 }, { onEviction });
  opened.push(store);
  return store;
};

beforeEach(() => {
  ({ dir, cleanup } = tempFolder());
});
afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  cleanup();
});

describe('eviction budget', () => {
  it('the worst eviction a put can cause is accepted, and the put evicts at most maxRowsPerTransaction rows', () => {
    const file = path.join(dir, 'ats.db');
    const store = open(1);
    seedOld(store);
    expect(store.stats().attestations).toBe(256);
    const before = indexRows(file);

    expect(store.put(NEWCOMER)).toEqual(['new']);

    const evicted = before + NEWCOMER_ROWS - indexRows(file);
    expect(evicted).toBeGreaterThan(0);
    expect(evicted).toBeLessThanOrEqual(MAX_ROWS);
    expect(evicted % OLD_ROWS).toBe(0); // whole attestations only
    expect(store.stats().attestations).toBe(257 - evicted / OLD_ROWS);
    expect(store.stats().evictionBacklog).toBeGreaterThan(0);
    expectConsistent(file); // every attestation is whole, with all its index entries, between slices too
  });

  it('each slice of the backlog evicts at most maxRowsPerTransaction rows, oldest first, down to exactly the limit', () => {
    const file = path.join(dir, 'ats.db');
    const store = open(1);
    seedOld(store);
    store.put(NEWCOMER);
    // Synchronous slices: the background drain (setImmediate) cannot run in between.
    let slices = 0;
    let rows = indexRows(file);
    let left = store.stats().attestations;
    for (;;) {
      const slice = store.evictBacklog();
      const now = indexRows(file);
      expect(slice.rows).toBe(rows - now); // what it says it removed is what is gone
      expect(slice.rows).toBeLessThanOrEqual(MAX_ROWS);
      expect(slice.attestations).toBe(left - store.stats().attestations);
      slices++;
      rows = now;
      left = store.stats().attestations;
      if (!slice.backlog) break;
      expect(slice.attestations).toBeGreaterThan(0); // progress: the backlog is finite
    }
    expect(slices).toBeGreaterThanOrEqual(Math.ceil(((256 - 3) * OLD_ROWS) / MAX_ROWS));
    expect(store.stats().evictionBacklog).toBe(0);
    expect(store.query({}).map((a) => a.id)).toEqual(['new']);
    for (let k = 0; k < 256; k += 37)
      expect(store.query({ actor: 'x', context: `shared-${k}` })).toHaveLength(1);
    expectConsistent(file);
    expect(store.evictBacklog()).toMatchObject({ attestations: 0, rows: 0, backlog: false });
  });

  it('removes the oldest first within a pair, and only past the limit', () => {
    // 40 attestations in the same 64 pairs under a generous limit; reopened at 3, one more write
    // to those pairs leaves 38 to evict (5,016 rows: more than a transaction may remove).
    const file = path.join(dir, 'ats.db');
    const contexts = range('c', 64);
    const wide = open(1000);
    for (let i = 0; i < 40; i += 10) {
      wide.put(
        Array.from({ length: 10 }, (_, j) => ({
          id: `w${i + j}`,
          subjects: ['s'],
          predicates: ['p'],
          contexts,
          actors: ['x'],
          timestamp: minute(i + j),
        })),
      );
    }
    // Bystanders: a pair over the new limit that no write touches again, and one within it.
    wide.put(
      range('y', 5).map((id, i) => ({
        id,
        subjects: ['s'],
        predicates: ['p'],
        contexts: ['c-0'],
        actors: ['y'],
        timestamp: minute(i),
      })),
    );
    wide.close();

    const store = open(3);
    store.put({
      id: 'last',
      subjects: ['s'],
      predicates: ['p'],
      contexts,
      actors: ['x'],
      timestamp: minute(100),
    });
    const removedInPut = 41 - store.query({ actor: 'x', context: 'c-0', limit: 1000 }).length;
    expect(removedInPut * (1 + 1 + 1 + 64 + 1 + 64)).toBeLessThanOrEqual(MAX_ROWS);
    // Readers may see more than the limit meanwhile, but what they see is the newest, in order.
    const seen = store.query({ actor: 'x', context: 'c-7', limit: 1000 }).map((a) => a.id);
    expect(seen).toEqual(
      ['last', ...Array.from({ length: 40 }, (_, i) => `w${39 - i}`)].slice(0, seen.length),
    );
    while (store.evictBacklog().backlog);
    for (const context of contexts)
      expect(store.query({ actor: 'x', context }).map((a) => a.id)).toEqual(['last', 'w39', 'w38']);
    expect(store.query({ actor: 'y', context: 'c-0' })).toHaveLength(5); // untouched: "on write" as before
    expect(store.stats().attestations).toBe(3 + 5);
    expectConsistent(file);
  });
});

describe('background drain', () => {
  it('drains the backlog by itself, off the call that created it, reporting each slice', async () => {
    const file = path.join(dir, 'ats.db');
    const events: EvictionEvent[] = [];
    const store = open(1, (e) => events.push(e));
    seedOld(store, 64);
    await store.putAsync(NEWCOMER);
    expect(store.stats().evictionBacklog).toBeGreaterThan(0);
    await waitFor(() => store.stats().evictionBacklog === 0, 30_000, 'the backlog to drain');
    expect(store.stats().attestations).toBe(1);
    const slices = events.filter((e) => e.kind === 'slice');
    expect(slices.length).toBeGreaterThan(1);
    for (const s of slices) expect(s.rows).toBeLessThanOrEqual(MAX_ROWS);
    const drained = events.filter((e) => e.kind === 'drained');
    expect(drained).toHaveLength(1);
    expect(drained[0]).toMatchObject({ slices: slices.length });
    expectConsistent(file);
  });

  it('goes through the write gate: while writes are refused it evicts nothing, and resumes after', async () => {
    const file = path.join(dir, 'ats.db');
    const events: EvictionEvent[] = [];
    const store = open(1, (e) => events.push(e));
    seedOld(store, 64);
    store.put(NEWCOMER);
    store.writes.refuse('the WAL is over its cap (test)');
    const rows = indexRows(file);
    await waitFor(() => events.some((e) => e.kind === 'failed'), 10_000, 'a refused slice');
    expect(events.find((e) => e.kind === 'failed')).toMatchObject({
      error: { code: 'ATS_STORE_WAL_CAP' },
      retryInMs: 1000,
    });
    expect(indexRows(file)).toBe(rows);
    store.writes.resume();
    await waitFor(() => store.stats().evictionBacklog === 0, 30_000, 'the backlog to drain');
    expect(store.stats().attestations).toBe(1);
  });

  it('stopEviction(): no slice writes after it, writes still work, and the backlog waits for the next open', async () => {
    const file = path.join(dir, 'ats.db');
    const events: EvictionEvent[] = [];
    const store = open(1, (e) => events.push(e));
    seedOld(store, 64);
    store.put(NEWCOMER); // schedules the first slice
    store.stopEviction();
    const rows = indexRows(file);
    await new Promise((resolve) => setTimeout(resolve, 300)); // many turns of the event loop
    expect(events).toEqual([]);
    expect(indexRows(file)).toBe(rows);
    await store.putAsync({ subjects: ['later'], predicates: ['p'], contexts: ['elsewhere'], actors: ['z'] });
    expect(store.stats().evictionBacklog).toBeGreaterThan(0);
    store.close();
    const again = open(1);
    await waitFor(() => again.stats().evictionBacklog === 0, 30_000, 'the backlog to drain after reopening');
    expect(again.stats().attestations).toBe(2);
  });

  it('a backlog left by a closed store is found and drained by the next open', async () => {
    const file = path.join(dir, 'ats.db');
    const first = open(1);
    seedOld(first, 64);
    first.put(NEWCOMER);
    first.close(); // before any slice ran: the backlog is only in the database
    const left = inspect(file, (db) =>
      Number(db.prepare('SELECT count(*) FROM eviction_backlog').pluck().get()),
    );
    expect(left).toBeGreaterThan(0);
    const again = open(1);
    await waitFor(() => again.stats().evictionBacklog === 0, 30_000, 'the backlog to drain after reopening');
    expect(again.query({}).map((a) => a.id)).toEqual(['new']);
    expectConsistent(file);
  });
});
