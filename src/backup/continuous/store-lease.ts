import fs from 'node:fs';
import { LEASE_SUFFIX } from '../remote-names.js';
import { leaseState, newLease, type RestoreLease } from '../restore-lease.js';
import type { ObjectStore } from './destination.js';

/** Leases are small JSON objects; anything bigger is not ours. */
const LEASE_MAX_BYTES = 1_000_000;

/**
 * Writes a restore lease on `holds` at the store's top level (the same object as issue 14's
 * `takeLease` writes, so both retentions honour it), through `scratch`, a local temporary file.
 * Returns a function that releases it.
 */
export async function takeStoreLease(
  store: ObjectStore,
  holds: readonly string[],
  scratch: string,
  now = Date.now(),
): Promise<() => Promise<void>> {
  const plain = store.plain ?? store;
  const lease = newLease(holds, now);
  fs.writeFileSync(scratch, JSON.stringify(lease), { flag: 'w', mode: 0o600 });
  try {
    await plain.put(lease.name, scratch);
  } finally {
    fs.rmSync(scratch, { force: true });
  }
  return () => plain.remove([lease.name]);
}

/** The leases among `keys` (a listing of the store): live ones, and the keys of expired ones. */
export async function readStoreLeases(
  store: ObjectStore,
  keys: readonly string[],
  now: number,
): Promise<{ live: RestoreLease[]; expired: string[] }> {
  const live: RestoreLease[] = [];
  const expired: string[] = [];
  for (const key of keys) {
    if (key.includes('/') || !key.endsWith(LEASE_SUFFIX)) continue;
    const text = (await (store.plain ?? store).head(key, LEASE_MAX_BYTES)).toString('utf8');
    const state = leaseState(key, text, now);
    if (state === 'expired') expired.push(key);
    else live.push(state);
  }
  return { live, expired };
}
