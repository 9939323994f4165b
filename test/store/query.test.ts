import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttestationInput, AttestationQuery, AttestationStore } from '../../dist/store/index.js';
import { minute, storeError, tempStore } from './temp-store.js';

let store: AttestationStore;
let cleanup: () => void;

// Six attestations; `n` is also the minute of its timestamp, except n5 and n6 share minute 4.
const FIXTURE: (AttestationInput & { id: string })[] = [
  {
    id: 'n1',
    subjects: ['alice'],
    predicates: ['member'],
    contexts: ['red'],
    actors: ['bob'],
    timestamp: minute(1),
  },
  {
    id: 'n2',
    subjects: ['alice', 'carol'],
    predicates: ['admin'],
    contexts: ['red'],
    actors: ['dave'],
    timestamp: minute(2),
  },
  {
    id: 'n3',
    subjects: ['carol'],
    predicates: ['member'],
    contexts: ['blue'],
    actors: ['bob'],
    timestamp: minute(3),
  },
  {
    id: 'n4',
    subjects: ['alice'],
    predicates: ['member'],
    contexts: ['blue', 'red'],
    actors: ['bob', 'dave'],
    timestamp: minute(4),
  },
  {
    id: 'n5',
    subjects: ['erin'],
    predicates: ['member'],
    contexts: ['red'],
    actors: ['bob'],
    timestamp: minute(4),
  },
  {
    id: 'n6',
    subjects: ['alice'],
    predicates: ['owner'],
    contexts: ['green'],
    actors: ['frank'],
    timestamp: minute(4),
  },
];

beforeAll(() => {
  ({ store, cleanup } = tempStore());
  // Inserted out of timestamp order: order must come from timestamps, then insertion.
  store.put([FIXTURE[3]!, FIXTURE[0]!, FIXTURE[4]!]);
  store.put([FIXTURE[2]!, FIXTURE[1]!, FIXTURE[5]!]);
});

afterAll(() => cleanup());

const ids = (q: AttestationQuery): string[] => store.query(q).map((a) => a.id);

describe('query refuses', () => {
  it.each([
    ['a limit of 0', { limit: 0 }, 'query limit must be a whole number from 1 to 1000 (got 0)', 'limit'],
    [
      'a limit over 1000',
      { limit: 1001 },
      'query limit must be a whole number from 1 to 1000 (got 1001)',
      'limit',
    ],
    ['a fractional limit', { limit: 2.5 }, '(got 2.5)', 'limit'],
    ['a string limit', { limit: '10' }, '(got "10")', 'limit'],
    ['an empty filter', { subject: '' }, 'query subject must be a non-empty string (got "")', 'subject'],
    ['a number filter', { actor: 5 }, 'query actor must be a non-empty string (got 5)', 'actor'],
    ['an unknown key', { colour: 'red' }, 'unknown query key "colour"', 'colour'],
    [
      'the plural of a filter',
      { subjects: 'alice' },
      'unknown query key "subjects" (did you mean "subject"?)',
      'subjects',
    ],
  ])('%s', (_name, q, message, field) => {
    const err = storeError(() => store.query(q as AttestationQuery));
    expect(err.code).toBe('ATS_STORE_INVALID');
    expect(err.message).toContain(message);
    expect(err.field).toBe(field);
  });
});

describe('query', () => {
  it('returns everything newest first, ties in insertion order newest first', () => {
    // n4, n5, n6 share minute 4 and were inserted n4, n5, then (later batch) n6.
    expect(ids({})).toEqual(['n6', 'n5', 'n4', 'n3', 'n2', 'n1']);
  });

  it('returns whole attestations', () => {
    expect(store.query({ subject: 'erin' })).toEqual([
      { ...FIXTURE[4], timestamp: minute(4), source: '', attributes: {} },
    ]);
  });

  it.each<[string, AttestationQuery, string[]]>([
    ['subject', { subject: 'alice' }, ['n6', 'n4', 'n2', 'n1']],
    ['predicate', { predicate: 'member' }, ['n5', 'n4', 'n3', 'n1']],
    ['context', { context: 'red' }, ['n5', 'n4', 'n2', 'n1']],
    ['actor', { actor: 'dave' }, ['n4', 'n2']],
    ['subject and predicate', { subject: 'alice', predicate: 'member' }, ['n4', 'n1']],
    ['subject and context', { subject: 'carol', context: 'blue' }, ['n3']],
    ['actor and context', { actor: 'bob', context: 'red' }, ['n5', 'n4', 'n1']],
    ['actor, context and predicate', { actor: 'bob', context: 'blue', predicate: 'member' }, ['n4', 'n3']],
    ['all four', { subject: 'alice', predicate: 'member', context: 'red', actor: 'dave' }, ['n4']],
    ['predicate and actor', { predicate: 'admin', actor: 'dave' }, ['n2']],
    ['filters that match apart but not together', { subject: 'erin', actor: 'dave' }, []],
    ['a value nothing uses', { subject: 'nobody' }, []],
    ['a value of another kind', { subject: 'bob' }, []],
  ])('filters by %s', (_name, q, expected) => {
    expect(ids(q)).toEqual(expected);
  });

  it('gives the same answer when a plan is reused', () => {
    expect(ids({ subject: 'carol' })).toEqual(['n3', 'n2']);
    expect(ids({ subject: 'alice' })).toEqual(['n6', 'n4', 'n2', 'n1']);
  });

  it('stops at the limit, keeping the newest', () => {
    expect(ids({ limit: 2 })).toEqual(['n6', 'n5']);
    expect(ids({ subject: 'alice', limit: 1 })).toEqual(['n6']);
    expect(ids({ actor: 'bob', context: 'red', limit: 2 })).toEqual(['n5', 'n4']);
  });
});

describe('query limits', () => {
  it('returns 100 by default and up to 1000', () => {
    const { store: big, cleanup: done } = tempStore({ maxPerActorContext: 2000, maxBatch: 1000 });
    try {
      for (let b = 0; b < 2; b++) {
        big.put(
          Array.from({ length: 600 }, (_, i) => ({
            subjects: [`s${b * 600 + i}`],
            predicates: ['p'],
            contexts: ['c'],
            actors: ['a'],
            timestamp: minute(b * 600 + i),
          })),
        );
      }
      expect(big.query({})).toHaveLength(100);
      const newest = big.query({ predicate: 'p', limit: 1000 });
      expect(newest).toHaveLength(1000);
      expect(newest[0]?.subjects).toEqual(['s1199']);
      expect(newest[999]?.subjects).toEqual(['s200']);
    } finally {
      done();
    }
  });
});
