import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../dist/errors/index.js';
import { BackupJob } from '../../dist/pulse/index.js';
import { buildApp } from '../../dist/server/index.js';
import { type AttestationStore, openStore } from '../../dist/store/index.js';
import { FAULTS } from '../faults/catalog.js';
import { attestation, tempDir } from '../helpers.js';

// The real app on a real database, driven with inject(): every bad body gets a 4xx that says what
// is wrong, and nothing is written.
let dir: string;
let store: AttestationStore;
let app: Awaited<ReturnType<typeof buildApp>>;

async function build(token?: string): Promise<void> {
  const database = path.join(dir, 'ats.db');
  store = openStore(database, { maxPerActorContext: 64, maxBatch: 10 });
  const backups = new BackupJob(
    { database, backupDir: dir, intervalSeconds: 0, keep: 2, verify: 'quick', timeoutSeconds: 60 },
    pino({ level: 'silent' }),
  );
  app = await buildApp({
    store,
    backups,
    logger: pino({ level: 'silent' }),
    maxBodyBytes: 64 * 1024,
    maxBatch: 10,
    token,
  });
}

beforeEach(async () => {
  dir = tempDir();
  await build();
});
afterEach(async () => {
  await app.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** An error code from ats's table (not Fastify's FST_*), whose status is the response's. */
function expectAtsCode(code: unknown, status: number): void {
  expect(code).toMatch(/^ATS_/);
  expect((ERROR_CODES as Record<string, { status?: number }>)[code as string]?.status).toBe(status);
}

const valid = attestation(1) as Record<string, unknown>;
const huge = 'x'.repeat(5000);
const BAD_BODIES: [string, string, number, RegExp][] = [
  ['malformed JSON', '{"subjects": [', 400, /not valid JSON/],
  ['a string', '"hello"', 400, /body must be object,array/],
  ['null', 'null', 400, /body/],
  [
    'missing field',
    JSON.stringify({ ...valid, actors: undefined }),
    400,
    /body must have required property 'actors'/,
  ],
  [
    'empty subjects',
    JSON.stringify({ ...valid, subjects: [] }),
    400,
    /body\/subjects must NOT have fewer than 1 items/,
  ],
  [
    'empty string value',
    JSON.stringify({ ...valid, contexts: [''] }),
    400,
    /body\/contexts\/0 must NOT have fewer than 1 characters/,
  ],
  [
    'wrong type in array',
    JSON.stringify({ ...valid, subjects: [5] }),
    400,
    /body\/subjects\/0 must be string/,
  ],
  [
    'subjects not an array',
    JSON.stringify({ ...valid, subjects: 'alice' }),
    400,
    /body\/subjects must be array/,
  ],
  [
    'attributes not an object',
    JSON.stringify({ ...valid, attributes: [1] }),
    400,
    /body\/attributes must be object/,
  ],
  ['unknown field', JSON.stringify({ ...valid, subject: ['a'] }), 400, /body has unknown property "subject"/],
  [
    'huge string',
    JSON.stringify({ ...valid, subjects: [huge] }),
    400,
    /body\/subjects\/0 must NOT have more than 4096 characters/,
  ],
  [
    'bad timestamp',
    JSON.stringify({ ...valid, timestamp: 'yesterday' }),
    400,
    /timestamp must be an ISO 8601 date-time/,
  ],
  ['empty batch', '[]', 400, /body must NOT have fewer than 1 items/],
  [
    'batch over the limit',
    JSON.stringify(Array.from({ length: 11 }, (_, i) => attestation(i))),
    400,
    /body must NOT have more than 10 items/,
  ],
  [
    'one bad item in a batch',
    JSON.stringify([attestation(1), { ...valid, predicates: [] }]),
    400,
    /body\/1\/predicates must NOT have fewer than 1 items/,
  ],
  [
    'duplicate id in a batch',
    JSON.stringify([
      { ...valid, id: 'same' },
      { ...valid, id: 'same' },
    ]),
    400,
    /same/,
  ],
  [
    'body over max_body_bytes',
    JSON.stringify({ ...valid, attributes: { blob: 'y'.repeat(70 * 1024) } }),
    413,
    /Request body is too large/,
  ],
];

describe('POST /attestations refuses bad bodies and writes nothing', () => {
  it('tries every bad body in the catalog', () =>
    expect(BAD_BODIES.length + 1).toBe(FAULTS['bad-http'].trials)); // + the content type
  it.each(BAD_BODIES)('%s', async (_name, payload, status, message) => {
    const response = await app.inject({
      method: 'POST',
      url: '/attestations',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode).toBe(status);
    expect(response.json().message).toMatch(message);
    expectAtsCode(response.json().error, status);
    expect(store.stats().attestations).toBe(0);
  });

  it('a wrong content type', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/attestations',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toBe('ATS_HTTP_UNSUPPORTED_MEDIA_TYPE');
    expect(response.json().message).toMatch(/unsupported content type "text\/plain": send application\/json/);
    expect(store.stats().attestations).toBe(0);
  });
});

describe('the rest of the API', () => {
  it('puts, gets, queries newest first, deletes', async () => {
    const put = await app.inject({
      method: 'POST',
      url: '/attestations',
      payload: [
        attestation(1, { timestamp: '2024-01-01T00:00:00Z' }),
        attestation(1, { timestamp: '2024-06-01T00:00:00Z' }),
      ],
    });
    expect(put.statusCode).toBe(201);
    const ids = put.json().ids as string[];
    expect(ids).toHaveLength(2);
    const got = await app.inject({ url: `/attestations/${ids[0]}` });
    expect(got.json()).toMatchObject({
      id: ids[0],
      subjects: ['subject-1'],
      attributes: { i: 1 },
      timestamp: '2024-01-01T00:00:00.000Z',
    });
    const query = await app.inject({ url: '/attestations?subject=subject-1&limit=5' });
    expect(query.json().attestations.map((a: { id: string }) => a.id)).toEqual([ids[1], ids[0]]);
    expect((await app.inject({ method: 'DELETE', url: `/attestations/${ids[0]}` })).statusCode).toBe(204);
    expect((await app.inject({ url: `/attestations/${ids[0]}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/attestations/${ids[0]}` })).statusCode).toBe(404);
    expect((await app.inject({ url: '/stats' })).json()).toMatchObject({ attestations: 1 });
  });

  it.each([
    ['/attestations?limit=many', /querystring\/limit must match pattern/],
    ['/attestations?limit=5000', /limit/],
    ['/attestations?colour=red', /querystring has unknown property "colour"/],
  ])('refuses the query %s', async (url, message) => {
    const response = await app.inject({ url });
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(message);
    expectAtsCode(response.json().error, 400);
  });

  it('answers an unknown route with 404 naming it', async () => {
    const response = await app.inject({ url: '/nothing/here?x=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'ATS_HTTP_NOT_FOUND', message: 'no route GET /nothing/here' });
  });

  it('exposes Prometheus metrics for backups and requests', async () => {
    await app.inject({ url: '/healthz' });
    const text = (await app.inject({ url: '/metrics' })).body;
    for (const name of [
      'ats_backups_total{outcome="success"} 0',
      'ats_backup_running 0',
      'ats_backup_newest_age_seconds -1',
      'ats_http_requests_total{method="GET",route="/healthz",status="200"} 1',
      'ats_http_request_duration_seconds_bucket',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(text).toContain(name);
    }
  });
});

describe('with a bearer token', () => {
  beforeEach(async () => {
    await app.close();
    store.close();
    await build('s3cret');
  });

  it.each(['/stats', '/attestations', '/backups'])('%s needs the token', async (url) => {
    expect((await app.inject({ url })).statusCode).toBe(401);
    expect((await app.inject({ url, headers: { authorization: 'Bearer wrong!' } })).statusCode).toBe(401);
    expect((await app.inject({ url, headers: { authorization: 'Bearer s3cret' } })).statusCode).toBe(200);
  });

  it('writes nothing without it', async () => {
    const response = await app.inject({ method: 'POST', url: '/attestations', payload: attestation(1) });
    expect(response.statusCode).toBe(401);
    expect(store.stats().attestations).toBe(0);
  });

  it.each(['/healthz', '/metrics'])('%s stays open for probes', async (url) => {
    expect((await app.inject({ url })).statusCode).toBe(200);
  });
});
