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

/** Whether any of `leases` holds a name (an unreadable lease holds every name). */
export function heldBy(leases: readonly RestoreLease[]): (name: string) => boolean {
  const held = new Set(leases.flatMap((lease) => lease.holds));
  return (name) => held.has(name) || held.has(ALL);
}

/** How long a lease counts without being released: longer than any restore should take. */
export const LEASE_MS = 6 * 3_600_000;

/** A new lease on `holds`, taken at `now`: its object name (at the destination's top level) and content. */
export function newLease(holds: readonly string[], now: number): RestoreLease {
  const time = new Date(now).toISOString().replace(/[-:.]/g, '');
  const name = `${time}-restore-${crypto.randomBytes(4).toString('hex')}${LEASE_SUFFIX}`;
  return { name, holds, until: new Date(now + LEASE_MS).toISOString() };
}

/** Writes a lease on `holds` and returns a function that releases it. */
export async function takeLease(
  destination: Destination,
  holds: readonly string[],
  now = Date.now(),
): Promise<() => Promise<void>> {
  const lease = newLease(holds, now);
  await destination.put(lease.name, Readable.from([Buffer.from(JSON.stringify(lease))]));
  return () => destination.remove([lease.name]);
}

/**
 * What the stored text of lease `name` says at `now`: live (what it holds), or expired. A lease
 * that cannot be read holds everything: never guess that a restore needs less.
 */
export function leaseState(name: string, text: string, now: number): RestoreLease | 'expired' {
  let lease: RestoreLease | undefined;
  try {
    lease = JSON.parse(text) as RestoreLease;
  } catch {
    lease = undefined;
  }
  const until = lease && typeof lease.until === 'string' ? Date.parse(lease.until) : Number.NaN;
  if (lease && Array.isArray(lease.holds) && until > now) return lease;
  if (lease && until <= now) return 'expired';
  return { name, holds: [ALL], until: new Date(now + LEASE_MS).toISOString() };
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
    const state = leaseState(entry.name, Buffer.concat(chunks).toString('utf8'), now);
    if (state === 'expired') expired.push(entry.name);
    else live.push(state);
  }
  return { live, expired };
}
