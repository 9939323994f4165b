import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { Destination, RemoteEntry } from './destination.js';
import { LEASE_SUFFIX } from './remote-names.js';

/** A running restore's claim on the objects it reads, so retention elsewhere leaves them alone. */
export interface RestoreLease {
  readonly name: string;
  readonly holds: readonly string[];
  /** ISO time after which the lease no longer counts (a crashed restore's lease expires). */
  readonly until: string;
}

/** What an unreadable lease holds: every object. */
export const ALL = '*';

/** How long a lease counts without being released: longer than any restore should take. */
export const LEASE_MS = 6 * 3_600_000;

/** Writes a lease on `holds` and returns a function that releases it. */
export async function takeLease(
  destination: Destination,
  holds: readonly string[],
  now = Date.now(),
): Promise<() => Promise<void>> {
  const time = new Date(now).toISOString().replace(/[-:.]/g, '');
  const name = `${time}-restore-${crypto.randomBytes(4).toString('hex')}${LEASE_SUFFIX}`;
  const lease: RestoreLease = { name, holds, until: new Date(now + LEASE_MS).toISOString() };
  await destination.put(name, Readable.from([Buffer.from(JSON.stringify(lease))]));
  return () => destination.remove([name]);
}

/** The leases among `entries`: live ones, and the names of expired or unreadable ones. */
export async function readLeases(
  destination: Destination,
  entries: readonly RemoteEntry[],
  now: number,
  signal?: AbortSignal,
): Promise<{ live: RestoreLease[]; expired: string[] }> {
  const live: RestoreLease[] = [];
  const expired: string[] = [];
  for (const entry of entries.filter((e) => e.name.endsWith(LEASE_SUFFIX))) {
    if (entry.bytes > 1_000_000) continue; // not ours: leave it
    const chunks: Buffer[] = [];
    for await (const chunk of await destination.open(entry.name, {}, signal)) chunks.push(Buffer.from(chunk));
    let lease: RestoreLease | undefined;
    try {
      lease = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RestoreLease;
    } catch {
      lease = undefined;
    }
    const until = lease && typeof lease.until === 'string' ? Date.parse(lease.until) : Number.NaN;
    if (lease && Array.isArray(lease.holds) && until > now) live.push(lease);
    else if (lease && until <= now) expired.push(entry.name);
    // A lease that cannot be read holds everything: never guess that a restore needs less.
    else live.push({ name: entry.name, holds: [ALL], until: new Date(now + LEASE_MS).toISOString() });
  }
  return { live, expired };
}
