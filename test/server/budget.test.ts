import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../dist/errors/index.js';
import { INPUT_LIMITS } from '../../dist/store/index.js';
import { rowCount as countRows } from '../store/temp-store.js';
import { type TestApp, testApp, values } from './test-app.js';

// The cost budget of a put, through the real app on a real database: a request within every
// per-field cap but over the budget gets 413 (or 400) naming the limit and the value, and nothing
// is written. Then the same shapes at the limit are accepted (the positive controls).
let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(() => t.close());

const L = INPUT_LIMITS;
const one = (i: number, extra: object = {}) => ({
  subjects: [`s-${i}`],
  predicates: ['p'],
  contexts: [`c-${i}`],
  actors: ['a'],
  ...extra,
});
const deep = (levels: number): object => (levels === 0 ? {} : { x: deep(levels - 1) });

const REFUSED: [string, unknown, number, string, RegExp][] = [
  [
    'actors x contexts over maxPairsPerAttestation (17 x 16 = 272, each list within its cap)',
    one(0, { actors: values('a', 17), contexts: values('c', 16) }),
    413,
    'ATS_STORE_OVER_BUDGET',
    /actors x contexts is 272 \(actor, context\) pair rows > 256 \(maxPairsPerAttestation\)/,
  ],
  [
    'the issue: 330 subjects x 256 actors x 256 contexts',
    one(0, { subjects: values('s', 330), actors: values('a', 256), contexts: values('c', 256) }),
    400,
    'ATS_HTTP_INVALID',
    /body\/subjects must NOT have more than 256 items/,
  ],
  [
    '256 actors x 256 contexts (65,536 pair rows)',
    one(0, { actors: values('a', 256), contexts: values('c', 256) }),
    413,
    'ATS_STORE_OVER_BUDGET',
    /65536 .* > 256 \(maxPairsPerAttestation\)/,
  ],
  [
    'a batch over maxPairsPerBatch (17 x 16 x 16 pairs)',
    Array.from({ length: 17 }, (_, i) =>
      one(i, { actors: values(`a${i}`, 16), contexts: values(`c${i}`, 16) }),
    ),
    413,
    'ATS_STORE_OVER_BUDGET',
    /at attestation 16: \(actor, context\) pair rows 4352 > 4096 \(maxPairsPerBatch\)/,
  ],
  [
    'a batch over maxRowsPerBatch (8 x 1026 rows, pairs within budget)',
    Array.from({ length: 9 }, (_, i) =>
      one(i, {
        subjects: values(`s${i}`, 256),
        predicates: values(`p${i}`, 256),
        contexts: values(`c${i}`, 256),
        actors: values(`a${i}`, 1),
      }),
    ),
    413,
    'ATS_STORE_OVER_BUDGET',
    /at attestation 5: rows 6156 > 6144 \(maxRowsPerBatch\)/,
  ],
  [
    'a batch over maxValueBytesPerBatch (70 x 4000-character subjects)',
    Array.from({ length: 70 }, (_, i) => one(i, { subjects: [`${'x'.repeat(3990)}-${i}`] })),
    413,
    'ATS_STORE_OVER_BUDGET',
    /at attestation 65: bytes of values \d+ > 262144 \(maxValueBytesPerBatch\)/,
  ],
  [
    'a batch over maxBatchBytes (17 x 64 KiB attributes)',
    Array.from({ length: 17 }, (_, i) =>
      one(i, { attributes: { b: 'w'.repeat(L.maxAttributesBytes - 20) } }),
    ),
    413,
    'ATS_STORE_OVER_BUDGET',
    /at attestation 15: bytes of text \d+ > 1048576 \(maxBatchBytes\)/,
  ],
  [
    'attributes over maxAttributesBytes',
    one(0, { attributes: { blob: 'y'.repeat(L.maxAttributesBytes) } }),
    413,
    'ATS_STORE_OVER_BUDGET',
    /attributes is 65547 bytes of JSON > 65536 \(maxAttributesBytes\)/,
  ],
  [
    'attributes nested past maxAttributesDepth',
    one(0, { attributes: deep(L.maxAttributesDepth) }), // the object itself is level 1
    400,
    'ATS_STORE_INVALID',
    /attributes(\.x)+ is nested more than 32 levels deep/,
  ],
  [
    'a value over maxValueChars',
    one(0, { subjects: ['v'.repeat(L.maxValueChars + 1)] }),
    400,
    'ATS_HTTP_INVALID',
    /body\/subjects\/0 must NOT have more than 4096 characters/,
  ],
];

describe('a put over the cost budget is refused, naming the limit and the value, and writes nothing', () => {
  it.each(REFUSED)('%s', async (_name, payload, status, code, message) => {
    const response = await t.app.inject({ method: 'POST', url: '/attestations', payload: payload as object });
    expect(response.json()).toMatchObject({ error: code });
    expect(response.json().message).toMatch(message);
    expect(response.statusCode).toBe(status);
    expect(ERROR_CODES[code as keyof typeof ERROR_CODES]).toMatchObject({ status });
    expect(countRows(t.database)).toBe(0);
  });
});

describe('the same shapes at the limit are accepted', () => {
  it.each([
    ['16 x 16 = 256 pairs', one(0, { actors: values('a', 16), contexts: values('c', 16) }), 1],
    [
      'a batch of 16 x 16 x 16 = 4096 pairs',
      Array.from({ length: 16 }, (_, i) =>
        one(i, { actors: values(`b${i}`, 16), contexts: values(`d${i}`, 16) }),
      ),
      16,
    ],
    [
      'attributes of exactly maxAttributesBytes',
      one(1, { attributes: { b: 'z'.repeat(L.maxAttributesBytes - 8) } }),
      1,
    ],
    [
      'attributes nested maxAttributesDepth levels',
      one(2, { attributes: deep(L.maxAttributesDepth - 1) }),
      1,
    ],
    ['a batch of 1000 small attestations', Array.from({ length: 1000 }, (_, i) => one(10_000 + i)), 1000],
  ])('%s', async (_name, payload, count) => {
    const before = countRows(t.database);
    const response = await t.app.inject({ method: 'POST', url: '/attestations', payload });
    expect(response.statusCode, response.body).toBe(201);
    expect(countRows(t.database)).toBe(before + count);
  });
});
