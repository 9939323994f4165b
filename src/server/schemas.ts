// JSON schemas of the HTTP API, built from the store's own limits (INPUT_LIMITS, QUERY_LIMITS):
// one source of truth, so a body the schema accepts is one the store's per-field checks accept.
// Request and reply types are derived from these schemas (json-schema-to-ts), never written beside them.
import { INPUT_LIMITS as L, QUERY_LIMITS as Q } from '../store/index.js';
import { POSITION_PATTERN } from './continuous-service.js';

const value = { type: 'string', minLength: 1, maxLength: L.maxValueChars } as const;
const values = { type: 'array', minItems: 1, maxItems: L.maxValuesPerKind, items: value } as const;

/** One attestation as posted. Unknown fields are refused, not dropped. */
export const attestationInput = {
  type: 'object',
  additionalProperties: false,
  required: ['subjects', 'predicates', 'contexts', 'actors'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: L.maxIdChars },
    subjects: values,
    predicates: values,
    contexts: values,
    actors: values,
    timestamp: { type: 'string', minLength: 1, maxLength: L.maxTimestampChars },
    source: { type: 'string', maxLength: L.maxSourceChars },
    attributes: { type: 'object' },
  },
} as const;

/** The body of POST /attestations: one attestation or a batch of 1..maxBatch. */
export function putBody(maxBatch: number) {
  return {
    type: ['object', 'array'],
    // if/then/else rather than oneOf, so a bad body gets the errors of its own shape only.
    if: { type: 'array' },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword
    then: { type: 'array', minItems: 1, maxItems: maxBatch, items: attestationInput },
    else: attestationInput,
  } as const;
}

const strings = { type: 'array', items: { type: 'string' } } as const;

/** A stored attestation, as returned. */
export const attestation = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'subjects', 'predicates', 'contexts', 'actors', 'timestamp', 'source', 'attributes'],
  properties: {
    id: { type: 'string' },
    subjects: strings,
    predicates: strings,
    contexts: strings,
    actors: strings,
    timestamp: { type: 'string' },
    source: { type: 'string' },
    attributes: { type: 'object', additionalProperties: true },
  },
} as const;

/** A continuous-backup position, `<lineage: 32 hex digits>/<txid>`. */
const position = { type: 'string', pattern: POSITION_PATTERN } as const;
/** A wait in milliseconds: digits only (a sign or a fraction is refused, naming the parameter). */
const timeoutMs = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;

/**
 * The reply to a put: the ids, in the order given, and (only when a continuous destination is
 * configured) the position of the write's transaction, for `GET /offsite/wait`.
 */
export const putReply = {
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: { ids: strings, position },
} as const;

/** The query string of POST /attestations: `durable=offsite` answers once the write is off-site. */
export const putQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { durable: { type: 'string', enum: ['offsite'] }, timeout_ms: timeoutMs },
} as const;

/** The query string of GET /offsite/wait. */
export const offsiteWaitQuery = {
  type: 'object',
  additionalProperties: false,
  required: ['position'],
  properties: { position, timeout_ms: timeoutMs },
} as const;

/** GET /offsite/wait's answer: the position asked for is off-site; `uploaded` is how far uploads are. */
export const offsiteWaitReply = {
  type: 'object',
  additionalProperties: false,
  required: ['position', 'offsite', 'uploaded'],
  properties: { position, offsite: { type: 'boolean', enum: [true] }, uploaded: position },
} as const;

const filter = { type: 'string', minLength: 1, maxLength: Q.maxFilterChars } as const;

/** The query string of GET /attestations. */
export const queryString = {
  type: 'object',
  additionalProperties: false,
  properties: {
    subject: filter,
    predicate: filter,
    context: filter,
    actor: filter,
    limit: { type: 'string', pattern: `^[0-9]{1,${String(Q.maxLimit).length}}$` },
    after: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  },
} as const;

/** One page of a query, and the cursor of the next (null on the last). */
export const pageReply = {
  type: 'object',
  additionalProperties: false,
  required: ['attestations', 'next'],
  properties: {
    attestations: { type: 'array', items: attestation },
    next: { type: ['string', 'null'] },
  },
} as const;

/** The body of every error response. */
export const errorBody = {
  type: 'object',
  additionalProperties: false,
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** Every error status a route may answer with, each with the error body. */
export const errorReplies = { '4xx': errorBody, '5xx': errorBody } as const;

/** `:id` in a path. */
export const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: L.maxIdChars } },
} as const;

/** GET /stats. */
export const statsReply = {
  type: 'object',
  additionalProperties: false,
  required: ['attestations', 'subjects', 'predicates', 'contexts', 'actors', 'databaseBytes', 'walBytes'],
  properties: {
    attestations: { type: 'integer' },
    subjects: { type: 'integer' },
    predicates: { type: 'integer' },
    contexts: { type: 'integer' },
    actors: { type: 'integer' },
    databaseBytes: { type: 'integer' },
    walBytes: { type: 'integer' },
  },
} as const;

/** GET /healthz: the status, and the WAL and checkpoint worker's state when the service runs them. */
export const healthReply = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    writes: { type: 'string', enum: ['ok', 'paused'] },
    wal: { type: 'object', additionalProperties: true },
    checkpointWorker: { type: 'object', additionalProperties: true },
    // With a continuous destination: the newest committed and the newest uploaded position.
    continuous: {
      type: 'object',
      additionalProperties: false,
      required: ['committed', 'uploaded', 'failing'],
      properties: {
        committed: position,
        // null until the lineage's first snapshot is uploaded
        uploaded: { type: ['string', 'null'], pattern: POSITION_PATTERN },
        failing: { type: 'boolean' },
      },
    },
  },
} as const;
