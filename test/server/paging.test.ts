import { afterEach, describe, expect, it } from 'vitest';
import { QUERY_LIMITS } from '../../dist/store/index.js';
import { type TestApp, testApp } from './test-app.js';

// GET /attestations pages through the real app: a byte cap per response, a `next` cursor, and
// pages that neither repeat nor skip an attestation while others are written between them.
let t: TestApp;
afterEach(() => t.close());

const one = (i: number, extra: object = {}) => ({
  subjects: [`s-${i}`],
  predicates: ['p'],
  contexts: ['c'],
  actors: [`a-${i % 50}`],
  ...extra,
});

async function page(query: string): Promise<{ attestations: { id: string }[]; next: string | null }> {
  const response = await t.app.inject({ url: `/attestations?${query}` });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe('GET /attestations refuses a bad cursor', () => {
  it.each([
    ['not base64url', 'after=!!!', 400, /querystring\/after must match pattern/],
    [
      'base64url of something else',
      `after=${Buffer.from('hello').toString('base64url')}`,
      400,
      /query after must be the "next" cursor of an earlier page/,
    ],
    [
      'a forged cursor with a fraction',
      `after=${Buffer.from('v1.1.5.5').toString('base64url')}`,
      400,
      /"next" cursor/,
    ],
  ])('%s', async (_name, query, status, message) => {
    t = await testApp();
    const response = await t.app.inject({ url: `/attestations?${query}` });
    expect(response.statusCode).toBe(status);
    expect(response.json().message).toMatch(message);
  });
});

describe('paging', () => {
  it('follows next to the end: every attestation once, newest first, next null on the last page', async () => {
    t = await testApp();
    const ids: string[] = [];
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 20 }, (_, i) =>
        one(b * 20 + i, { timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, (b * 20 + i) % 7)).toISOString() }),
      );
      const response = await t.app.inject({ method: 'POST', url: '/attestations', payload: batch });
      ids.push(...response.json().ids);
    }
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const got = await page(`limit=7${next === null ? '' : `&after=${next}`}`);
      expect(got.attestations.length).toBeLessThanOrEqual(7);
      seen.push(...got.attestations.map((a) => a.id));
      next = got.next;
      pages++;
    } while (next !== null);
    expect(pages).toBe(Math.ceil(100 / 7));
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('is stable under concurrent writes and deletes: no repeats, nothing that existed throughout is skipped', async () => {
    t = await testApp();
    const before: string[] = (
      await t.app.inject({
        method: 'POST',
        url: '/attestations',
        payload: Array.from({ length: 60 }, (_, i) =>
          one(i, { timestamp: `2024-02-01T00:00:${String(i % 60).padStart(2, '0')}Z` }),
        ),
      })
    ).json().ids;
    const deleted = new Set<string>();
    const seen: string[] = [];
    let next: string | null = null;
    let round = 0;
    do {
      const got = await page(`actor=a-1&limit=1${next === null ? '' : `&after=${next}`}`);
      seen.push(...got.attestations.map((a) => a.id));
      next = got.next;
      // Between pages: new attestations (newest and oldest), and a delete of one not yet seen.
      await t.app.inject({
        method: 'POST',
        url: '/attestations',
        payload: [
          one(1000 + round, { actors: ['a-1'] }),
          one(2000 + round, { actors: ['a-1'], timestamp: '2000-01-01T00:00:00Z' }),
        ],
      });
      const victim = before.find((id, i) => i % 50 === 1 && !seen.includes(id) && !deleted.has(id));
      if (victim !== undefined && round === 0) {
        await t.app.inject({ method: 'DELETE', url: `/attestations/${victim}` });
        deleted.add(victim);
      }
      round++;
    } while (next !== null && round < 500);
    expect(new Set(seen).size).toBe(seen.length); // no repeats
    const throughout = before.filter((id, i) => i % 50 === 1 && !deleted.has(id));
    expect(throughout.length).toBeGreaterThan(0);
    for (const id of throughout) expect(seen).toContain(id);
  });

  it('caps a response at about maxPageBytes, whatever the limit, and hands out next', async () => {
    t = await testApp();
    const blob = 'x'.repeat(60_000);
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 15 }, (_, i) => one(b * 15 + i, { attributes: { blob } }));
      expect((await t.app.inject({ method: 'POST', url: '/attestations', payload: batch })).statusCode).toBe(
        201,
      );
    }
    const response = await t.app.inject({ url: '/attestations?limit=1000' });
    expect(response.rawPayload.length).toBeLessThanOrEqual(QUERY_LIMITS.maxPageBytes);
    const first = response.json();
    expect(first.attestations.length).toBeGreaterThan(1);
    expect(first.attestations.length).toBeLessThan(45);
    expect(first.next).not.toBeNull();
    let total = first.attestations.length;
    let next: string | null = first.next;
    while (next !== null) {
      const got = await page(`limit=1000&after=${next}`);
      total += got.attestations.length;
      next = got.next;
    }
    expect(total).toBe(45);
  });
});
