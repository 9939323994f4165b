import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../dist/store/index.js';
import {
  countAttestations,
  postAttestations,
  removeDir,
  type Service,
  startService,
  tempDir,
  waitFor,
  writeConfig,
} from '../helpers.js';
import { expectConsistent, inspect } from '../store/temp-store.js';

// The eviction backlog through the real service (issue 11): a POST whose eviction exceeds one
// transaction's budget is answered 201, the service drains the rest in the background, and a
// SIGKILL in the middle of the drain neither loses the backlog nor anything that should be kept.

let dir: string;
let service: Service | undefined;
afterEach(async () => {
  await service?.stop('SIGKILL');
  service = undefined;
  removeDir(dir);
});

const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const OLD = 256;
const BYSTANDERS = 10;

/**
 * 256 attestations of 256 pairs each (actor x; context shared-k and 255 of its own), and bystanders
 * in pairs of their own: with max_per_actor_context = 1, nothing is over the limit yet.
 */
function seed(file: string): void {
  const store = openStore(file, { maxPerActorContext: 1, maxBatch: 1000 });
  try {
    for (let k = 0; k < OLD; k += 8) {
      store.put(
        Array.from({ length: 8 }, (_, j) => ({
          id: `old-${k + j}`,
          subjects: [`old-${k + j}`],
          predicates: ['p'],
          contexts: [`shared-${k + j}`, ...range(`own-${k + j}`, 255)],
          actors: ['x'],
          timestamp: new Date(Date.UTC(2024, 0, 1, 0, k + j)).toISOString(),
        })),
      );
    }
    store.put(
      range('bystander', BYSTANDERS).map((id, i) => ({
        id,
        subjects: ['s'],
        predicates: ['p'],
        contexts: [`shared-${i}`], // the same context as evicted ones, another actor: another pair
        actors: ['y'],
      })),
    );
  } finally {
    store.close();
  }
}

interface Stats {
  attestations: number;
  evictionBacklog: number;
}
const stats = async (url: string): Promise<Stats> => (await (await fetch(`${url}/stats`)).json()) as Stats;
const backlogIn = (file: string): number =>
  inspect(file, (db) => Number(db.prepare('SELECT count(*) FROM eviction_backlog').pluck().get()));

describe('ats serve: the eviction backlog', () => {
  it('answers the worst eviction with 201, survives a SIGKILL mid-drain, and drains to exactly the limit after restart', async () => {
    dir = tempDir('ats-evict-');
    const file = path.join(dir, 'data', 'ats.db');
    seed(file);
    const config = writeConfig(
      dir,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n[ATS]\nmax_per_actor_context = 1\n',
    );
    service = await startService(config);
    const response = await postAttestations(service.url, {
      id: 'new',
      subjects: ['new'],
      predicates: ['p'],
      contexts: range('shared', OLD),
      actors: ['x'],
    });
    expect(response.status).toBe(201);

    // The put finished a few pairs and left the rest; kill once the drain has made progress, not finished.
    const left = (await stats(service.url)).evictionBacklog;
    expect(left).toBeGreaterThan(0);
    let seen = left;
    while (seen === left) seen = (await stats(service.url)).evictionBacklog;
    expect(seen, 'the drain finished before the test could kill it mid-way').toBeGreaterThan(0);
    await service.stop('SIGKILL');
    service = undefined;

    // What the crash left: a consistent database, still holding part of the backlog.
    const backlog = backlogIn(file);
    expect(backlog).toBeGreaterThan(0);
    expect(backlog).toBeLessThan(OLD);
    // Each pair left in the backlog still holds its old attestation: nothing went without its record.
    const survivors = countAttestations(file);
    expect(survivors).toBe(1 + BYSTANDERS + backlog);
    expectConsistent(file);

    service = await startService(config);
    expect(service.events('store_open')[0]).toMatchObject({ evictionBacklog: backlog });
    const url = service.url;
    await waitFor(async () => (await stats(url)).evictionBacklog === 0, 60_000, 'the backlog to drain');
    expect(await stats(url)).toMatchObject({ attestations: 1 + BYSTANDERS, evictionBacklog: 0 });
    expect((await fetch(`${url}/attestations/new`)).status).toBe(200);
    for (const id of range('bystander', BYSTANDERS))
      expect((await fetch(`${url}/attestations/${id}`)).status, id).toBe(200);
    await waitFor(() => service!.events('eviction_drained').length > 0, 10_000, 'the eviction_drained line');
    expect(service.events('eviction_drained')[0]).toMatchObject({ attestations: backlog });
    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
    expect(countAttestations(file)).toBe(1 + BYSTANDERS);
    expect(backlogIn(file)).toBe(0);
    expectConsistent(file);
  });
});
