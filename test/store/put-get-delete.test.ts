import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttestationStore } from '../../dist/store/index.js';
import { expectConsistent, minute, rowCount, sample, storeError, tempStore } from './temp-store.js';

let store: AttestationStore;
let file: string;
let cleanup: () => void;

beforeEach(() => {
  ({ store, file, cleanup } = tempStore());
});

afterEach(() => cleanup());

describe('get and delete refuse', () => {
  it.each([[''], [5], [undefined]])('an id of %j', (id) => {
    expect(storeError(() => store.get(id as string)).code).toBe('ATS_STORE_INVALID');
    expect(storeError(() => store.delete(id as string)).code).toBe('ATS_STORE_INVALID');
  });
});

describe('put, get, delete', () => {
  it('stores every field and reads it back', () => {
    const input = {
      id: 'a1',
      subjects: ['alice', 'carol'],
      predicates: ['member', 'admin'],
      contexts: ['team:red'],
      actors: ['bob'],
      timestamp: '2024-03-01T09:30:00.250+01:00',
      source: 'import:hr',
      attributes: { level: 3, tags: ['x', 'y'], nested: { ok: true, none: null } },
    };
    expect(store.put(input)).toEqual(['a1']);
    expect(store.get('a1')).toEqual({ ...input, timestamp: '2024-03-01T08:30:00.250Z' });
  });

  it('fills in id, timestamp, source and attributes', () => {
    const [id, other] = store.put([sample(), sample()]);
    const stored = store.get(id!)!;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(other).not.toBe(id);
    // "Now", loosely: a clock step must not fail the test.
    expect(Math.abs(Date.parse(stored.timestamp) - Date.now())).toBeLessThan(86_400_000);
    expect(store.get(other!)?.timestamp).toBe(stored.timestamp);
    expect(stored.source).toBe('');
    expect(stored.attributes).toEqual({});
  });

  it('returns the ids of a batch in order', () => {
    const ids = store.put([sample({ id: 'x' }), sample(), sample({ id: 'z' })]);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe('x');
    expect(ids[2]).toBe('z');
    expect(rowCount(file)).toBe(3);
  });

  it('keeps duplicate values as given but indexes them once', () => {
    store.put(sample({ id: 'd', subjects: ['s', 's'], actors: ['a', 'a'], contexts: ['c', 'c'] }));
    expect(store.get('d')?.subjects).toEqual(['s', 's']);
    expect(store.query({ subject: 's' })).toHaveLength(1);
    expectConsistent(file);
  });

  it('returns undefined for an unknown id, false when deleting one', () => {
    expect(store.get('nope')).toBeUndefined();
    expect(store.delete('nope')).toBe(false);
  });

  it('deletes one attestation and its index entries, and lets its id be reused', () => {
    store.put([
      sample({ id: 'keep', timestamp: minute(1) }),
      sample({ id: 'drop', subjects: ['only-here'], timestamp: minute(2) }),
    ]);
    expect(store.delete('drop')).toBe(true);
    expect(store.get('drop')).toBeUndefined();
    expect(store.delete('drop')).toBe(false);
    expect(store.query({ subject: 'only-here' })).toEqual([]);
    expect(store.query({}).map((a) => a.id)).toEqual(['keep']);
    expectConsistent(file);
    expect(store.put(sample({ id: 'drop' }))).toEqual(['drop']);
  });

  it('counts attestations and distinct values, and forgets values no attestation uses', () => {
    store.put([
      sample({ subjects: ['s1', 's2'], predicates: ['p'], contexts: ['c1'], actors: ['a1'] }),
      sample({
        id: 'last',
        subjects: ['s2', 's3'],
        predicates: ['p'],
        contexts: ['c2'],
        actors: ['a1', 'a2'],
      }),
    ]);
    expect(store.stats()).toMatchObject({
      attestations: 2,
      subjects: 3,
      predicates: 1,
      contexts: 2,
      actors: 2,
    });
    store.delete('last');
    expect(store.stats()).toMatchObject({
      attestations: 1,
      subjects: 2,
      predicates: 1,
      contexts: 1,
      actors: 1,
    });
    expectConsistent(file);
  });

  it('reports the sizes of the database and WAL files', () => {
    store.put(sample());
    const stats = store.stats();
    expect(stats.databaseBytes).toBeGreaterThan(0);
    expect(stats.walBytes).toBeGreaterThan(0);
  });

  it('refuses every call after close', () => {
    store.close();
    store.close();
    for (const call of [
      () => store.put(sample()),
      () => store.get('x'),
      () => store.delete('x'),
      () => store.query({}),
      () => store.stats(),
    ]) {
      expect(storeError(call).code).toBe('ATS_STORE_CLOSED');
    }
  });
});
