import type { Destination } from './destination.js';
import { LEASE_SUFFIX, parseBackupName } from './remote-names.js';
import { heldBy, readLeases } from './restore-lease.js';

/** How many remote backups a destination keeps. */
export interface RetentionPolicy {
  /** Keep the newest `keep` backups (undefined: no count rule). */
  readonly keep: number | undefined;
  /** Keep backups younger than this many days (undefined: no age rule). */
  readonly keepDays: number | undefined;
}

/** The count kept when neither rule is set: a day of hourly backups. */
export const DEFAULT_REMOTE_KEEP = 24;

/** What a retention pass did. */
export interface RetentionOutcome {
  readonly kept: readonly string[];
  readonly removed: readonly string[];
  /** Objects a rule would remove that a restore in progress holds. */
  readonly held: readonly string[];
}

/**
 * Removes the remote backups no rule keeps. A backup stays if it is among the newest `keep`, OR
 * younger than `keepDays`, OR is `verifiedNewest` (the upload just completed and checked), OR is
 * the newest in the listing, OR a live lease of a running restore names it: when rules disagree,
 * the one keeping more wins. Call only after a new upload is complete and verified. Expired
 * leases go too. Leases are listed again just before anything is removed, so a restore that
 * leased a backup during the pass keeps it. Removal of an already-removed object succeeds, so a
 * retried pass is harmless.
 */
export async function applyRetention(
  destination: Destination,
  policy: RetentionPolicy,
  verifiedNewest: string,
  now = Date.now(),
  signal?: AbortSignal,
): Promise<RetentionOutcome> {
  const entries = await destination.list(signal);
  const leases = await readLeases(destination, entries, now, signal);
  const isHeld = heldBy(leases.live);
  const backups = entries.flatMap((e) => parseBackupName(e.name) ?? []);
  const keep = policy.keep ?? (policy.keepDays === undefined ? DEFAULT_REMOTE_KEEP : undefined);
  const kept: string[] = [];
  let removed: string[] = [];
  const heldBack: string[] = [];
  backups.forEach((backup, i) => {
    const fromNewest = backups.length - 1 - i;
    const byCount = keep !== undefined && fromNewest < keep;
    const byAge =
      policy.keepDays !== undefined && now - Date.parse(backup.createdAt) < policy.keepDays * 86_400_000;
    if (byCount || byAge || fromNewest === 0 || backup.name === verifiedNewest) kept.push(backup.name);
    else if (isHeld(backup.name)) heldBack.push(backup.name);
    else removed.push(backup.name);
  });
  if (removed.length > 0) {
    // A restore may have leased one of them since the listing: look again just before removing,
    // which shrinks the window from the whole pass to one round trip. (A restore that still loses
    // the race finds the object gone and fails cleanly, before it installs anything.)
    const seen = new Set(entries.map((e) => e.name));
    const fresh = (await destination.list(signal)).filter(
      (e) => e.name.endsWith(LEASE_SUFFIX) && !seen.has(e.name),
    );
    const lateHeld = heldBy((await readLeases(destination, fresh, now, signal)).live);
    heldBack.push(...removed.filter(lateHeld));
    removed = removed.filter((name) => !lateHeld(name));
  }
  const expired = leases.expired.filter((name) => name.endsWith(LEASE_SUFFIX));
  if (removed.length + expired.length > 0) await destination.remove([...removed, ...expired], signal);
  return Object.freeze({ kept, removed, held: heldBack });
}
