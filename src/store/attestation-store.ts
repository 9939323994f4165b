import path from 'node:path';
import type {
  Attestation,
  AttestationInput,
  AttestationPage,
  AttestationQuery,
  StoreLimits,
  StoreStats,
} from './attestation.js';
import { AttestationReader } from './attestation-reader.js';
import { AttestationWriter, type Eviction } from './attestation-writer.js';
import { StoreError, storeFailure } from './errors.js';
import { EvictionDrain, type EvictionEvent, type EvictionSlice } from './eviction-drain.js';
import { isPlainObject } from './json-value.js';
import { EVICTION_LIMITS, INPUT_LIMITS } from './limits.js';
import { openDatabase } from './open-database.js';
import { type ValidAttestation, validateBatch } from './validate-input.js';
import { WriteGate } from './write-gate.js';

/**
 * What the WAL policy may do to the store's writes (the store's half of checkpoint coordination):
 * hold new writes for a few milliseconds while a checkpoint restarts the WAL, or refuse them while
 * the WAL is over its cap.
 */
export interface WriteControl {
  /** Why writes are refused now (ATS_STORE_WAL_CAP); undefined when they go through. */
  readonly refusal: string | undefined;
  /** Whether a hold is in force now (false once its time is up, even while its step still runs). */
  readonly holding: boolean;
  /** Holds new writes while `step` runs, at most `maxMs`; writes waiting meanwhile go on after it. */
  hold<T>(maxMs: number, step: () => Promise<T>): Promise<T>;
  /** Refuses every write naming `reason` until `resume()`: 'wal' ATS_STORE_WAL_CAP, 'disk' ATS_STORE_FULL. */
  refuse(reason: string, kind?: 'wal' | 'disk'): void;
  resume(): void;
}

/**
 * The attestation store: one SQLite connection. Reads and `put`/`delete` are synchronous and try
 * once; `putAsync`/`deleteAsync` go through the write gate, which waits for the write lock on a timer
 * (never in SQLite's busy wait on the event loop) and is what a server should call.
 */
export interface AttestationStore {
  /**
   * Writes one attestation or a batch in one transaction and returns their ids, in order; then
   * enforces `maxPerActorContext` on every (actor, context) pair it touched: the oldest beyond it
   * are removed, in the same transaction up to EVICTION_LIMITS.maxRowsPerTransaction rows, the rest
   * by the background drain of the eviction backlog (recorded in the same transaction). An
   * attestation older than a full pair's newest is removed too (its id is still returned). Nothing
   * is written when any attestation is invalid.
   */
  put(input: AttestationInput | AttestationInput[]): string[];
  get(id: string): Attestation | undefined;
  /** Removes one attestation; false when there was none with this id. */
  delete(id: string): boolean;
  /**
   * `put` through the write gate: waits up to a second, off the event loop, while another
   * connection holds the write lock or a checkpoint holds writes. Rejects with ATS_STORE_BUSY past that, with
   * ATS_STORE_WAL_CAP while writes are paused (backpressure), with ATS_STORE_FULL when the disk is full.
   */
  putAsync(input: AttestationInput | AttestationInput[]): Promise<string[]>;
  /** `delete` through the write gate, as `putAsync`. */
  deleteAsync(id: string): Promise<boolean>;
  /**
   * One slice of the eviction backlog now (what the background drain runs, through the gate):
   * at most EVICTION_LIMITS.maxRowsPerTransaction rows, or one attestation larger than that.
   */
  evictBacklog(): EvictionSlice;
  /**
   * Stops the background drain of the eviction backlog for good (close() does too): no slice
   * writes after it returns, and the backlog stays in the database for the next open. A service
   * calls it when it starts shutting down, so that nothing writes after its last WAL shipping and
   * checkpoint.
   */
  stopEviction(): void;
  /** The store's write gate, for the WAL policy of whoever runs checkpoints. */
  readonly writes: WriteControl;
  /** Newest first (timestamp, then insertion order); filters combine with AND. */
  query(q: AttestationQuery): Attestation[];
  /** Like query, one page at a time: pass `next` back as `after` for the following page. */
  page(q: AttestationQuery): AttestationPage;
  stats(): StoreStats;
  /** Absolute path of the database file. */
  readonly path: string;
  /** Closes the connection; later calls throw ECLOSED. Calling it twice is harmless. */
  close(): void;
}

/** Options of openStore beyond the configured limits. */
export interface StoreOptions {
  /** Told about each background eviction slice, a drained backlog, and a failed slice (retried). */
  readonly onEviction?: ((event: EvictionEvent) => void) | undefined;
}

/**
 * Opens the store at `file`, creating its folder and database on first use and migrating the
 * schema. Throws a StoreError: EINVALID for bad arguments, ESCHEMA for a database from a newer
 * ats, EOPEN when it cannot be opened.
 */
export function openStore(file: string, limits: StoreLimits, options: StoreOptions = {}): AttestationStore {
  if (typeof file !== 'string' || file.trim() === '')
    throw new StoreError(
      'ATS_STORE_INVALID',
      `store path must be a non-empty string (got ${JSON.stringify(file)})`,
    );
  if (file === ':memory:' || file.startsWith('file:')) {
    throw new StoreError(
      'ATS_STORE_INVALID',
      `store path must be a file path (got ${file}): WAL and backups need a real file`,
    );
  }
  const { maxPerActorContext, maxBatch } = checkLimits(limits);
  const absolute = path.resolve(file);
  const db = openDatabase(absolute);
  let writer: AttestationWriter;
  let reader: AttestationReader;
  let leftover: boolean;
  try {
    writer = new AttestationWriter(db, maxPerActorContext);
    reader = new AttestationReader(db, absolute);
    leftover = writer.hasBacklog();
  } catch (err) {
    db.close();
    throw new StoreError('ATS_STORE_OPEN', `open ${absolute}: ${(err as Error).message}`, { cause: err });
  }

  const gate = new WriteGate(absolute);
  const run = <T>(operation: string, fn: () => T): T => {
    if (!db.open) throw new StoreError('ATS_STORE_CLOSED', `${operation} ${absolute}: the store is closed`);
    try {
      return fn();
    } catch (err) {
      throw storeFailure(operation, absolute, err);
    }
  };
  const checkId = (id: unknown, operation: string): string => {
    if (typeof id !== 'string' || id === '')
      throw new StoreError(
        'ATS_STORE_INVALID',
        `${operation}: id must be a non-empty string (got ${JSON.stringify(id)})`,
      );
    return id;
  };

  const maxEvictRows = EVICTION_LIMITS.maxRowsPerTransaction;
  const slice = (): EvictionSlice =>
    run('evict', () => {
      gate.checkOpen('evict');
      const started = performance.now();
      const eviction: Eviction = writer.evictBacklog(maxEvictRows);
      return { ...eviction, ms: performance.now() - started };
    });
  const drain: EvictionDrain = new EvictionDrain(
    () => gate.run('evict', (): EvictionSlice | undefined => (drain.closed ? undefined : slice())),
    options.onEviction,
  );
  const writeBatch = (batch: readonly ValidAttestation[]): string[] =>
    run('put', () => {
      gate.checkOpen('put');
      if (writer.put(batch, maxEvictRows).backlog) drain.wake();
      return batch.map((a) => a.id);
    });
  const put = (input: AttestationInput | AttestationInput[]): string[] =>
    writeBatch(run('put', () => validateBatch(input, maxBatch)));
  const remove = (id: string): boolean =>
    run('delete', () => {
      checkId(id, 'delete');
      gate.checkOpen('delete');
      return writer.delete(id);
    });

  // A backlog left by the last process (a crash, a shutdown mid-drain) is in the database: carry on.
  if (leftover) drain.wake();

  return Object.freeze({
    path: absolute,
    put,
    get: (id: string) => run('get', () => reader.get(checkId(id, 'get'))),
    delete: remove,
    putAsync(input: AttestationInput | AttestationInput[]): Promise<string[]> {
      // Validate once, first: a bad request is refused at once whatever the lock, and every retry
      // writes the same ids and timestamps.
      let batch: ValidAttestation[];
      try {
        batch = run('put', () => validateBatch(input, maxBatch));
      } catch (err) {
        return Promise.reject(err);
      }
      return gate.run('put', () => writeBatch(batch));
    },
    deleteAsync: (id: string) => gate.run('delete', () => remove(id)),
    evictBacklog(): EvictionSlice {
      const result = slice();
      if (result.backlog) drain.wake();
      return result;
    },
    writes: gate,
    query: (q: AttestationQuery) => run('query', () => reader.query(q)),
    page: (q: AttestationQuery) => run('query', () => reader.page(q)),
    stopEviction: () => drain.close(),
    stats: () => run('stats', () => ({ ...reader.stats(), evictionBacklog: writer.backlogSize() })),
    close(): void {
      drain.close();
      if (db.open) db.close();
    },
  });
}

function checkLimits(limits: unknown): StoreLimits {
  if (!isPlainObject(limits))
    throw new StoreError(
      'ATS_STORE_INVALID',
      'store limits must be an object { maxPerActorContext, maxBatch }',
    );
  const whole = (name: keyof StoreLimits, min: number, max: number): number => {
    const value = limits[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new StoreError(
        'ATS_STORE_INVALID',
        `store limit ${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(value) ?? String(value)})`,
        { field: name },
      );
    }
    return value;
  };
  return {
    maxPerActorContext: whole('maxPerActorContext', 1, Number.MAX_SAFE_INTEGER),
    maxBatch: whole('maxBatch', 1, INPUT_LIMITS.maxBatch),
  };
}
