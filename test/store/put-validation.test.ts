import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttestationInput, AttestationStore } from '../../dist/store/index.js';
import { expectConsistent, rowCount, sample, storeError, tempStore } from './temp-store.js';

let store: AttestationStore;
let file: string;
let cleanup: () => void;

beforeEach(() => {
  ({ store, file, cleanup } = tempStore({ maxPerActorContext: 64, maxBatch: 5 }));
  store.put([sample({ id: 'existing' })]);
});

afterEach(() => cleanup());

/** Puts `input`, expects EINVALID and checks nothing was written. */
function refused(input: unknown): { message: string; index: number | undefined; field: string | undefined } {
  const before = rowCount(file);
  const err = storeError(() => store.put(input as AttestationInput[]));
  expect(err.code).toBe('ATS_STORE_INVALID');
  expect(rowCount(file)).toBe(before);
  expect(store.stats().attestations).toBe(before);
  return { message: err.message, index: err.index, field: err.field };
}

describe('put refuses invalid attestations and writes nothing', () => {
  const cases: { name: string; input: unknown; message: string; field?: string }[] = [
    {
      name: 'missing subjects',
      input: { predicates: ['p'], contexts: ['c'], actors: ['a'] },
      message: 'attestation 0: subjects must be a non-empty array of non-empty strings (got nothing)',
      field: 'subjects',
    },
    {
      name: 'empty predicates',
      input: sample({ predicates: [] }),
      message:
        'attestation 0: predicates must be a non-empty array of non-empty strings (got an empty array)',
      field: 'predicates',
    },
    {
      name: 'empty string in contexts',
      input: sample({ contexts: ['c', ''] }),
      message: 'attestation 0: contexts must be a non-empty array of non-empty strings (contexts[1] is "")',
      field: 'contexts',
    },
    {
      name: 'number in actors',
      input: sample({ actors: [7 as unknown as string] }),
      message: 'actors must be a non-empty array of non-empty strings (actors[0] is 7)',
      field: 'actors',
    },
    {
      name: 'string for an array',
      input: sample({ subjects: 'alice' as unknown as string[] }),
      message: 'subjects must be a non-empty array of non-empty strings (got "alice")',
      field: 'subjects',
    },
    {
      name: 'too many values',
      input: sample({ subjects: Array.from({ length: 257 }, (_, i) => `s${i}`) }),
      message: 'subjects must hold at most 256 values (got 257)',
      field: 'subjects',
    },
    {
      name: 'timestamp without a zone',
      input: sample({ timestamp: '2024-05-01T12:00:00' }),
      message:
        'timestamp must be an ISO 8601 date-time with a zone, like 2024-05-01T12:00:00Z (got "2024-05-01T12:00:00")',
      field: 'timestamp',
    },
    {
      name: 'impossible date',
      input: sample({ timestamp: '2023-02-29T00:00:00Z' }),
      message: 'timestamp must be an ISO 8601',
      field: 'timestamp',
    },
    {
      name: 'hour 24',
      input: sample({ timestamp: '2024-01-01T24:00:00Z' }),
      message: 'timestamp must be an ISO 8601',
      field: 'timestamp',
    },
    {
      name: 'words for a timestamp',
      input: sample({ timestamp: 'yesterday' }),
      message: '(got "yesterday")',
      field: 'timestamp',
    },
    {
      name: 'number for a timestamp',
      input: sample({ timestamp: 1700000000000 as unknown as string }),
      message: '(got 1700000000000)',
      field: 'timestamp',
    },
    {
      name: 'array for attributes',
      input: sample({ attributes: [] as unknown as Record<string, unknown> }),
      message: 'attributes must be a plain JSON object (got an empty array)',
      field: 'attributes',
    },
    {
      name: 'Date for attributes',
      input: sample({ attributes: new Date() as unknown as Record<string, unknown> }),
      message: 'attributes must be a plain JSON object (got a Date)',
      field: 'attributes',
    },
    {
      name: 'function inside attributes',
      input: sample({ attributes: { a: { b: () => 1 } } }),
      message: 'attributes.a.b must be JSON (got a function)',
      field: 'attributes',
    },
    {
      name: 'NaN inside attributes',
      input: sample({ attributes: { list: [1, Number.NaN] } }),
      message: 'attributes.list[1] must be a finite number (got NaN)',
      field: 'attributes',
    },
    {
      name: 'undefined inside attributes',
      input: sample({ attributes: { gone: undefined } }),
      message: 'attributes.gone must be JSON (got undefined)',
      field: 'attributes',
    },
    {
      name: 'Map inside attributes',
      input: sample({ attributes: { m: new Map() } }),
      message: 'attributes.m must be JSON (got a Map)',
      field: 'attributes',
    },
    {
      name: 'number for source',
      input: sample({ source: 5 as unknown as string }),
      message: 'attestation 0: source must be a string of at most 4096 characters (got 5)',
      field: 'source',
    },
    {
      name: 'empty id',
      input: sample({ id: '' }),
      message: 'attestation 0: id must be a non-empty string',
      field: 'id',
    },
    {
      name: 'id that already exists',
      input: sample({ id: 'existing' }),
      message: 'attestation 0: id "existing" already exists',
      field: 'id',
    },
    {
      name: 'misspelled field',
      input: { ...sample(), subject: ['x'] },
      message: 'attestation 0: unknown field "subject" (did you mean "subjects"?)',
      field: 'subject',
    },
    {
      name: 'not an object',
      input: 'alice is a member',
      message: 'attestation 0: must be an object (got "alice is a member")',
    },
    { name: 'null', input: null, message: 'attestation 0: must be an object (got null)' },
  ];

  it.each(cases)('$name', ({ input, message, field }) => {
    const err = refused(input);
    expect(err.message).toContain(message);
    expect(err.field).toBe(field);
    expect(err.index).toBe(0);
  });

  it('a cyclic attributes object', () => {
    const attributes: Record<string, unknown> = { a: 1 };
    attributes.self = attributes;
    expect(refused(sample({ attributes })).message).toContain('attributes.self refers to itself (a cycle)');
  });

  it('an empty batch', () => {
    expect(refused([]).message).toBe('batch is empty: put at least one attestation');
  });

  it('a batch over maxBatch', () => {
    expect(refused(Array.from({ length: 6 }, () => sample())).message).toBe(
      'batch of 6 attestations is over the limit of 5 (maxBatch); split it',
    );
  });

  it('a whole batch when one attestation in it is invalid, naming its index', () => {
    const batch = [sample(), sample(), sample(), sample({ subjects: [] }), sample()];
    const err = refused(batch);
    expect(err.index).toBe(3);
    expect(err.message).toBe(
      'attestation 3: subjects must be a non-empty array of non-empty strings (got an empty array)',
    );
  });

  it('a whole batch whose last attestation reuses a stored id, after the others were inserted', () => {
    // The id check runs inside the transaction: attestations 0-2 are written, then rolled back.
    const err = refused([
      sample({ id: 'n1' }),
      sample({ id: 'n2' }),
      sample({ id: 'n3' }),
      sample({ id: 'existing' }),
    ]);
    expect(err.index).toBe(3);
    expect(store.get('n1')).toBeUndefined();
    expectConsistent(file);
  });

  it('a batch that uses one id twice', () => {
    const err = refused([sample({ id: 'twin' }), sample(), sample({ id: 'twin' })]);
    expect(err.index).toBe(2);
    expect(err.message).toBe('attestation 2: id "twin" is also used by attestation 0 of this batch');
  });
});

describe('put accepts', () => {
  it.each([
    ['a bare date, read as UTC', '2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['an offset, normalized to UTC', '2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['minutes only', '2024-05-01T12:30Z', '2024-05-01T12:30:00.000Z'],
    ['microseconds, kept to milliseconds', '2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123Z'],
  ])('%s', (_name, timestamp, stored) => {
    const [id] = store.put(sample({ timestamp }));
    expect(store.get(id!)?.timestamp).toBe(stored);
  });

  it('a batch of exactly maxBatch', () => {
    expect(store.put(Array.from({ length: 5 }, () => sample()))).toHaveLength(5);
    expect(rowCount(file)).toBe(6);
  });
});
