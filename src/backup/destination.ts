import type { Readable } from 'node:stream';

/** One object at a destination, as a listing shows it. */
export interface RemoteEntry {
  /**
   * The object's name relative to the destination (e.g. `20261202T101530123Z-1a2b3c4d5e6f.atsb`);
   * a name below a folder of the destination carries `/` (`lineages/<dir>/segments/<range>.seg`).
   */
  readonly name: string;
  /** Stored length in bytes. */
  readonly bytes: number;
}

const NAME_PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether `name` is an object name: parts of letters, digits, `.`, `_`, `-` (never `.`, `..`, empty or hidden), separated by `/`. */
export function validObjectName(name: string): boolean {
  return name.split('/').every((part) => NAME_PART.test(part));
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

/** Options of {@link Destination.put}. */
export interface PutOptions {
  readonly signal?: AbortSignal | undefined;
  /**
   * An upper bound of the body's length, when known: S3 sizes its parts by it (an object store
   * takes at most 10,000 parts, so a bound past 10,000 parts of the configured size needs it).
   */
  readonly maxBytes?: number | undefined;
}

/**
 * Where remote backups go: an immutable object store. Names are written once and never replaced
 * (an object store has no rename, so nothing is rotated by renaming); `put` makes an object
 * visible only once it is complete, so a reader never sees half of one. Every implementation
 * passes the one contract suite in test/backup/destinations/.
 */
export interface Destination {
  readonly info: DestinationInfo;
  /** Every object directly under the destination (no `/` in its name), in name order (which the naming makes time order). */
  list(signal?: AbortSignal): Promise<RemoteEntry[]>;
  /**
   * Every object whose name begins with `prefix`, at any depth (`lineages/` lists every lineage's
   * snapshots and segments), in name order. S3 pages through the listing with ContinuationToken.
   */
  listPrefix(prefix: string, signal?: AbortSignal): Promise<RemoteEntry[]>;
  /**
   * Stores `body` (produced as it is read, never held whole) as `name`, visible only once complete;
   * an interrupted put leaves no object under `name`. Returns the stored entry. A chunk of `body`
   * is only lent: it may be reused once the next is asked for, so a put copies or writes each
   * one before it asks for more (a stream's chunks are the consumer's; a backup's are not).
   */
  put(name: string, body: AsyncIterable<Buffer>, options?: PutOptions): Promise<RemoteEntry>;
  /** The stored bytes of `name` in `range` (default all; `end` exclusive), as a stream; EREMOTE if absent. */
  open(name: string, range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /** The stored length of `name`, or undefined when there is none. */
  stat(name: string, signal?: AbortSignal): Promise<RemoteEntry | undefined>;
  /** Removes objects; names already gone are not an error, so a retried removal succeeds. */
  remove(names: readonly string[], signal?: AbortSignal): Promise<void>;
}
