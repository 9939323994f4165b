import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttestationStore } from '../../dist/store/index.js';
import { expectConsistent, minute, sample, tempStore } from './temp-store.js';

const N = 3;
let store: AttestationStore;
let file: string;
let cleanup: () => void;

beforeEach(() => {
  ({ store, file, cleanup } = tempStore({ maxPerActorContext: N, maxBatch: 100 }));
});

afterEach(() => cleanup());

const ids = (q: Parameters<AttestationStore['query']>[0]): string[] => store.query(q).map((a) => a.id);

describe('enforce_limits', () => {
  it('keeps exactly the N newest of a pair across separate puts', () => {
    for (let i = 1; i <= 6; i++) store.put(sample({ id: `a${i}`, timestamp: minute(i) }));
    expect(ids({ actor: 'bob', context: 'team' })).toEqual(['a6', 'a5', 'a4']);
    expect(store.stats().attestations).toBe(N);
    expectConsistent(file);
  });

  it('keeps exactly the N newest within one batch, by timestamp rather than batch order', () => {
    const minutes = [5, 1, 9, 3, 7, 2];
    store.put(minutes.map((m) => sample({ id: `m${m}`, timestamp: minute(m) })));
    expect(ids({ actor: 'bob', context: 'team' })).toEqual(['m9', 'm7', 'm5']);
    expectConsistent(file);
  });

  it('breaks timestamp ties by insertion order, dropping the earliest inserted', () => {
    store.put(['t1', 't2', 't3', 't4'].map((id) => sample({ id, timestamp: minute(0) })));
    expect(ids({ actor: 'bob', context: 'team' })).toEqual(['t4', 't3', 't2']);
  });

  it('removes at once a backdated attestation put into a full pair, yet returns its id', () => {
    for (let i = 1; i <= N; i++) store.put(sample({ id: `a${i}`, timestamp: minute(10 + i) }));
    expect(store.put(sample({ id: 'old', timestamp: minute(0) }))).toEqual(['old']);
    expect(store.get('old')).toBeUndefined();
    expect(ids({ actor: 'bob', context: 'team' })).toEqual(['a3', 'a2', 'a1']);
  });

  it('counts each (actor, context) pair apart', () => {
    for (let i = 1; i <= 5; i++) {
      store.put([
        sample({ id: `red${i}`, contexts: ['red'], timestamp: minute(i) }),
        sample({ id: `blue${i}`, contexts: ['blue'], timestamp: minute(i) }),
        sample({ id: `eve${i}`, contexts: ['red'], actors: ['eve'], timestamp: minute(i) }),
      ]);
    }
    expect(ids({ actor: 'bob', context: 'red' })).toEqual(['red5', 'red4', 'red3']);
    expect(ids({ actor: 'bob', context: 'blue' })).toEqual(['blue5', 'blue4', 'blue3']);
    expect(ids({ actor: 'eve', context: 'red' })).toEqual(['eve5', 'eve4', 'eve3']);
    expect(store.stats().attestations).toBe(9);
  });

  it('removes an attestation from every pair it is in when one of its pairs overflows', () => {
    // 'wide' is in (bob, red) and (bob, blue); overflowing (bob, red) removes it from both.
    store.put(sample({ id: 'wide', contexts: ['red', 'blue'], timestamp: minute(0) }));
    store.put([1, 2, 3].map((i) => sample({ id: `red${i}`, contexts: ['red'], timestamp: minute(i) })));
    expect(store.get('wide')).toBeUndefined();
    expect(ids({ actor: 'bob', context: 'blue' })).toEqual([]);
    expectConsistent(file);
  });

  it('leaves a pair under the limit alone, whatever the other pairs hold', () => {
    store.put([1, 2].map((i) => sample({ id: `q${i}`, actors: ['quiet'], timestamp: minute(i) })));
    for (let i = 1; i <= 10; i++) store.put(sample({ timestamp: minute(i) }));
    expect(ids({ actor: 'quiet', context: 'team' })).toEqual(['q2', 'q1']);
    expectConsistent(file);
  });
});
