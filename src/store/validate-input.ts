import { randomUUID } from 'node:crypto';
import { type AttestationInput, KINDS, type Kind } from './attestation.js';
import { StoreError } from './errors.js';
import { isPlainObject, jsonProblem } from './json-value.js';
import { INPUT_LIMITS as L } from './limits.js';
import { parseTimestamp } from './timestamp.js';

/** An attestation checked and ready to write. */
export interface ValidAttestation {
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly ts: number;
  readonly values: Readonly<Record<Kind, readonly string[]>>;
  readonly source: string;
  /** `attributes` as JSON text. */
  readonly attributes: string;
}

const FIELDS = ['id', ...KINDS, 'timestamp', 'source', 'attributes'];

/** What a batch costs the store, counted before anything is written. */
interface Cost {
  rows: number;
  pairs: number;
  bytes: number;
  valueBytes: number;
}

/**
 * Checks a put's argument: one attestation or a batch of 1..maxBatch. Every problem names the
 * attestation's index in the batch and the field. Timestamps default to one `now` per batch.
 */
export function validateBatch(input: unknown, maxBatch: number, now = Date.now()): ValidAttestation[] {
  const batch = Array.isArray(input) ? input : [input];
  if (batch.length === 0)
    throw new StoreError('ATS_STORE_INVALID', 'batch is empty: put at least one attestation');
  if (batch.length > maxBatch) {
    throw new StoreError(
      'ATS_STORE_INVALID',
      `batch of ${batch.length} attestations is over the limit of ${maxBatch} (maxBatch); split it`,
    );
  }
  const seen = new Map<string, number>();
  const total: Cost = { rows: 0, pairs: 0, bytes: 0, valueBytes: 0 };
  return batch.map((item, index) => {
    const valid = validateOne(item, index, now);
    const earlier = seen.get(valid.id);
    if (earlier !== undefined)
      throw invalid(
        index,
        'id',
        `id ${JSON.stringify(valid.id)} is also used by attestation ${earlier} of this batch`,
      );
    seen.set(valid.id, index);
    chargeBatch(total, costOf(valid), index);
    return valid;
  });
}

/** Rows, pair rows and bytes one valid attestation writes. */
function costOf(a: ValidAttestation): Cost {
  let rows = 1;
  let valueBytes = 0;
  for (const kind of KINDS) {
    const distinct = new Set(a.values[kind]);
    rows += distinct.size;
    for (const value of a.values[kind]) valueBytes += Buffer.byteLength(value);
  }
  const bytes =
    Buffer.byteLength(a.id) + Buffer.byteLength(a.source) + Buffer.byteLength(a.attributes) + valueBytes;
  const pairs = new Set(a.values.actors).size * new Set(a.values.contexts).size;
  return { rows: rows + pairs, pairs, bytes, valueBytes };
}

/** Adds an attestation's cost to the batch's, refusing the batch once it is over the budget. */
function chargeBatch(total: Cost, cost: Cost, index: number): void {
  total.rows += cost.rows;
  total.pairs += cost.pairs;
  total.bytes += cost.bytes;
  total.valueBytes += cost.valueBytes;
  const over = (what: string, value: number, limit: number, name: string): StoreError =>
    new StoreError(
      'ATS_STORE_OVER_BUDGET',
      `batch is over the budget at attestation ${index}: ${what} ${value} > ${limit} (${name}); split it`,
      { index },
    );
  if (total.pairs > L.maxPairsPerBatch)
    throw over('(actor, context) pair rows', total.pairs, L.maxPairsPerBatch, 'maxPairsPerBatch');
  if (total.rows > L.maxRowsPerBatch) throw over('rows', total.rows, L.maxRowsPerBatch, 'maxRowsPerBatch');
  if (total.valueBytes > L.maxValueBytesPerBatch)
    throw over('bytes of values', total.valueBytes, L.maxValueBytesPerBatch, 'maxValueBytesPerBatch');
  if (total.bytes > L.maxBatchBytes)
    throw over('bytes of text', total.bytes, L.maxBatchBytes, 'maxBatchBytes');
}

function validateOne(item: unknown, index: number, now: number): ValidAttestation {
  if (!isPlainObject(item)) throw invalid(index, undefined, `must be an object (got ${describe(item)})`);
  for (const key of Object.keys(item)) {
    if (FIELDS.includes(key)) continue;
    const hint = FIELDS.find((f) => f.toLowerCase() === key.toLowerCase() || f === `${key}s`);
    throw invalid(
      index,
      key,
      `unknown field ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`,
    );
  }
  const a = item as Partial<Record<keyof AttestationInput, unknown>>;

  if (a.id !== undefined && (typeof a.id !== 'string' || a.id === '' || a.id.length > L.maxIdChars)) {
    throw invalid(
      index,
      'id',
      `id must be a non-empty string of at most ${L.maxIdChars} characters (got ${describe(a.id)})`,
    );
  }
  const values = {} as Record<Kind, readonly string[]>;
  for (const kind of KINDS) {
    const list = a[kind];
    const bad = Array.isArray(list) ? list.findIndex((v) => typeof v !== 'string' || v === '') : -1;
    if (!Array.isArray(list) || list.length === 0 || bad >= 0) {
      const got =
        bad >= 0 ? `${kind}[${bad}] is ${describe((list as unknown[])[bad])}` : `got ${describe(list)}`;
      throw invalid(index, kind, `${kind} must be a non-empty array of non-empty strings (${got})`);
    }
    if (list.length > L.maxValuesPerKind)
      throw invalid(
        index,
        kind,
        `${kind} must hold at most ${L.maxValuesPerKind} values (got ${list.length})`,
      );
    const long = (list as string[]).findIndex((v) => v.length > L.maxValueChars);
    if (long >= 0)
      throw invalid(
        index,
        kind,
        `${kind}[${long}] must be at most ${L.maxValueChars} characters (got ${(list[long] as string).length})`,
      );
    values[kind] = [...(list as string[])];
  }
  const pairs = new Set(values.actors).size * new Set(values.contexts).size;
  if (pairs > L.maxPairsPerAttestation) {
    throw new StoreError(
      'ATS_STORE_OVER_BUDGET',
      `attestation ${index}: actors x contexts is ${pairs} (actor, context) pair rows > ${L.maxPairsPerAttestation} (maxPairsPerAttestation); split it into attestations with fewer actors or contexts`,
      { index, field: 'actors' },
    );
  }
  let ts = now;
  if (a.timestamp !== undefined) {
    const parsed =
      typeof a.timestamp === 'string' && a.timestamp.length <= L.maxTimestampChars
        ? parseTimestamp(a.timestamp)
        : undefined;
    if (parsed === undefined) {
      throw invalid(
        index,
        'timestamp',
        `timestamp must be an ISO 8601 date-time with a zone, like 2024-05-01T12:00:00Z (got ${describe(a.timestamp)})`,
      );
    }
    ts = parsed;
  }
  if (a.source !== undefined && (typeof a.source !== 'string' || a.source.length > L.maxSourceChars))
    throw invalid(
      index,
      'source',
      `source must be a string of at most ${L.maxSourceChars} characters (got ${describe(a.source)})`,
    );
  let attributes = '{}';
  if (a.attributes !== undefined) {
    if (!isPlainObject(a.attributes))
      throw invalid(
        index,
        'attributes',
        `attributes must be a plain JSON object (got ${describe(a.attributes)})`,
      );
    const problem = jsonProblem(a.attributes, 'attributes', L.maxAttributesDepth);
    if (problem !== undefined) throw invalid(index, 'attributes', problem);
    attributes = JSON.stringify(a.attributes);
    const bytes = Buffer.byteLength(attributes);
    if (bytes > L.maxAttributesBytes) {
      throw new StoreError(
        'ATS_STORE_OVER_BUDGET',
        `attestation ${index}: attributes is ${bytes} bytes of JSON > ${L.maxAttributesBytes} (maxAttributesBytes)`,
        { index, field: 'attributes' },
      );
    }
  }
  return { id: a.id ?? randomUUID(), ts, values, source: a.source ?? '', attributes };
}

function invalid(index: number, field: string | undefined, problem: string): StoreError {
  return new StoreError('ATS_STORE_INVALID', `attestation ${index}: ${problem}`, { index, field });
}

/** A received value, short, for "(got ...)". */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length}`;
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return isPlainObject(value) ? 'an object' : `a ${value.constructor?.name ?? 'object'}`;
}
