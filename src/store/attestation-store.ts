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
import { AttestationWriter } from './attestation-writer.js';
import { StoreError, storeFailure } from './errors.js';
import { isPlainObject } from './json-value.js';
import { INPUT_LIMITS } from './limits.js';
import { openDatabase } from './open-database.js';
import { validateBatch } from './validate-input.js';

/** The attestation store: one SQLite connection, synchronous calls. */
export interface AttestationStore {
  /**
   * Writes one attestation or a batch in one transaction and returns their ids, in order; then
   * keeps the newest `maxPerActorContext` of every (actor, context) pair it touched, in the same
   * transaction. An attestation older than a full pair's newest is removed at once (its id is
   * still returned). Nothing is written when any attestation is invalid.
   */
  put(input: AttestationInput | AttestationInput[]): string[];
  get(id: string): Attestation | undefined;
  /** Removes one attestation; false when there was none with this id. */
  delete(id: string): boolean;
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

/**
 * Opens the store at `file`, creating its folder and database on first use and migrating the
 * schema. Throws a StoreError: EINVALID for bad arguments, ESCHEMA for a database from a newer
 * ats, EOPEN when it cannot be opened.
 */
export function openStore(file: string, limits: StoreLimits): AttestationStore {
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
  try {
    writer = new AttestationWriter(db, maxPerActorContext);
    reader = new AttestationReader(db, absolute);
  } catch (err) {
    db.close();
    throw new StoreError('ATS_STORE_OPEN', `open ${absolute}: ${(err as Error).message}`, { cause: err });
  }

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

  return Object.freeze({
    path: absolute,
    put(input: AttestationInput | AttestationInput[]): string[] {
      return run('put', () => {
        const batch = validateBatch(input, maxBatch);
        writer.put(batch);
        return batch.map((a) => a.id);
      });
    },
    get: (id: string) => run('get', () => reader.get(checkId(id, 'get'))),
    delete: (id: string) => run('delete', () => writer.delete(checkId(id, 'delete'))),
    query: (q: AttestationQuery) => run('query', () => reader.query(q)),
    page: (q: AttestationQuery) => run('query', () => reader.page(q)),
    stats: () => run('stats', () => reader.stats()),
    close(): void {
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
