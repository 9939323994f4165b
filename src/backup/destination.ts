import type { Readable } from 'node:stream';

/** One object at a destination, as a listing shows it. */
export interface RemoteEntry {
  /** The object's name relative to the destination (e.g. `20261202T101530123Z-1a2b3c4d5e6f.atsb`). */
  readonly name: string;
  /** Stored length in bytes. */
  readonly bytes: number;
}

/** A part of an object: from `start` (default 0) to `end` (exclusive, default the end). */
export interface ByteRange {
  readonly start?: number;
  readonly end?: number;
}

/** What a destination is, for messages, logs and /backups. No secret is in here. */
export interface DestinationInfo {
  readonly url: string;
  readonly kind: 'folder' | 's3';
  /** Human-readable: the folder, or bucket, prefix, endpoint and region. */
  readonly description: string;
}

/**
 * Where remote backups go: an immutable object store. Names are written once and never replaced
 * (an object store has no rename, so nothing is rotated by renaming); `put` makes an object
 * visible only once it is complete, so a reader never sees half of one. Every implementation
 * passes the one contract suite in test/backup/destinations/.
 */
export interface Destination {
  readonly info: DestinationInfo;
  /** Every object name under the destination, in name order (which the naming makes time order). */
  list(signal?: AbortSignal): Promise<RemoteEntry[]>;
  /**
   * Stores `body` (produced as it is read, never held whole) as `name`, visible only once complete;
   * an interrupted put leaves no object under `name`. Returns the stored entry.
   */
  put(name: string, body: Readable, signal?: AbortSignal): Promise<RemoteEntry>;
  /** The stored bytes of `name` in `range` (default all; `end` exclusive), as a stream; EREMOTE if absent. */
  open(name: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /** The stored length of `name`, or undefined when there is none. */
  stat(name: string, signal?: AbortSignal): Promise<RemoteEntry | undefined>;
  /** Removes objects; names already gone are not an error, so a retried removal succeeds. */
  remove(names: readonly string[], signal?: AbortSignal): Promise<void>;
}
