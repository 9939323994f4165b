import { afterEach, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../dist/errors/index.js';
import { attestation } from '../helpers.js';
import { rowCount } from '../store/temp-store.js';
import { type TestApp, testApp } from './test-app.js';

// The unclear answers of the issue, through the real app: each bad request gets an ats code with
// its status and precise words, and nothing is written; 5xx say what kind of failure only.
let t: TestApp;
afterEach(() => t.close());

const body = JSON.stringify(attestation(1));
const post = (payload: string | Buffer, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/attestations',
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });

describe('bodies', () => {
  it.each([
    [
      '__proto__ in attributes',
      body.replace('"attributes":{', '"attributes":{"__proto__":{"admin":true},'),
      /body has the key "__proto__" at body\/attributes: ats refuses it/,
    ],
    [
      'constructor.prototype at the top',
      body.replace('{', '{"constructor":{"prototype":{"x":1}},'),
      /body has the key "constructor" with "prototype" at body:/,
    ],
    [
      '__proto__ in the second item of a batch',
      `[${body},${body.replace('{', '{"__proto__":{},')}]`,
      /at body\/1:/,
    ],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from(body.slice(0, 20)), Buffer.from([0xc3, 0x28]), Buffer.from(body.slice(20))]),
      /body is not valid UTF-8 \(bad byte at offset 20\)/,
    ],
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d]), /bad byte at offset 1/],
    ['malformed JSON', '{"subjects": [', /body is not valid JSON: /],
    ['an empty body', '', /body is empty/],
  ])('%s: 400 ATS_HTTP_BAD_JSON', async (_name, payload, message) => {
    t = await testApp();
    const response = await post(payload);
    expect(response.json()).toMatchObject({ error: 'ATS_HTTP_BAD_JSON' });
    expect(response.json().message).toMatch(message);
    expect(response.statusCode).toBe(400);
    expect(rowCount(t.database)).toBe(0);
  });

  it('"__proto__" as a value, or "constructor" as a plain key, is accepted (the guard reads keys only)', async () => {
    t = await testApp();
    const response = await post(
      JSON.stringify(attestation(1, { subjects: ['__proto__'], attributes: { constructor: 'x' } })),
    );
    expect(response.statusCode).toBe(201);
    expect(rowCount(t.database)).toBe(1);
  });

  it('valid UTF-8 beyond ASCII round-trips unchanged', async () => {
    t = await testApp();
    const response = await post(Buffer.from(JSON.stringify(attestation(1, { subjects: ['café ☕ 𝄞'] }))));
    expect(response.statusCode).toBe(201);
    const got = await t.app.inject({ url: `/attestations/${response.json().ids[0]}` });
    expect(got.json().subjects).toEqual(['café ☕ 𝄞']);
  });
});

describe('the bearer token', () => {
  it.each([
    ['no header', undefined, /missing bearer token/],
    ['another scheme', 'Basic czNjcmV0', /is not "Bearer <token>"/],
    ['a wrong token of the same length', 'Bearer s3creX', /wrong bearer token/],
    ['a prefix of the token', 'Bearer s3cr', /wrong bearer token/],
    ['the token and more', 'Bearer s3cret!', /wrong bearer token/],
    ['no token after the scheme', 'Bearer ', /is not "Bearer <token>"/],
  ])('%s: 401 ATS_HTTP_UNAUTHORIZED', async (_name, authorization, message) => {
    t = await testApp({ token: 's3cret' });
    const response = await t.app.inject({
      url: '/stats',
      headers: authorization === undefined ? {} : { authorization },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.json()).toMatchObject({ error: 'ATS_HTTP_UNAUTHORIZED' });
    expect(response.json().message).toMatch(message);
  });

  it.each(['Bearer s3cret', 'bearer s3cret', 'BEARER s3cret', 'Bearer   s3cret'])(
    '%j is accepted',
    async (authorization) => {
      t = await testApp({ token: 's3cret' });
      expect((await t.app.inject({ url: '/stats', headers: { authorization } })).statusCode).toBe(200);
    },
  );
});

describe('5xx hide their details', () => {
  it('a closed store answers 503 ATS_STORE_CLOSED with Retry-After and no path', async () => {
    t = await testApp();
    t.store.close();
    const response = await post(body);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toEqual({
      error: 'ATS_STORE_CLOSED',
      message: 'the service is busy or shutting down; retry shortly',
    });
    expect(response.body).not.toContain(t.dir);
    expect(ERROR_CODES.ATS_STORE_CLOSED.status).toBe(503);
  });
});
