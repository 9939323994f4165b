// JSON schemas of the HTTP API: Fastify validates every body and query against them, so handlers
// never re-check shape. Values are capped so one request cannot grow the database without bound.
const value = { type: 'string', minLength: 1, maxLength: 4096 } as const;
const values = { type: 'array', minItems: 1, maxItems: 1000, items: value } as const;

/** One attestation as posted. Unknown fields are refused, not dropped. */
export const attestationInput = {
  type: 'object',
  additionalProperties: false,
  required: ['subjects', 'predicates', 'contexts', 'actors'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    subjects: values,
    predicates: values,
    contexts: values,
    actors: values,
    timestamp: { type: 'string', minLength: 1, maxLength: 64 },
    source: { type: 'string', maxLength: 4096 },
    attributes: { type: 'object' },
  },
} as const;

/** A stored attestation, as returned. */
export const attestation = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    subjects: { type: 'array', items: { type: 'string' } },
    predicates: { type: 'array', items: { type: 'string' } },
    contexts: { type: 'array', items: { type: 'string' } },
    actors: { type: 'array', items: { type: 'string' } },
    timestamp: { type: 'string' },
    source: { type: 'string' },
    attributes: { type: 'object', additionalProperties: true },
  },
} as const;

/** The body of every error response. */
export const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** `:id` in a path. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;
