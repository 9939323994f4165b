// What one put may ask of the store. The per-field caps bound each value; the budget bounds the
// product and the total, so the worst accepted request stays well under 100 ms of event-loop time
// (measured by `npm run bench`, "worst accepted request"). The HTTP schemas are built from these.

/** Every input limit of the store, in one frozen object. */
export const INPUT_LIMITS = Object.freeze({
  /** Characters in an id. */
  maxIdChars: 256,
  /** Values in each of subjects, predicates, contexts, actors. */
  maxValuesPerKind: 256,
  /** Characters in one value. */
  maxValueChars: 4096,
  /** Characters in a timestamp. */
  maxTimestampChars: 64,
  /** Characters in `source`. */
  maxSourceChars: 4096,
  /** Bytes of `attributes` as JSON (UTF-8), per attestation. */
  maxAttributesBytes: 65_536,
  /** Levels of nesting in `attributes` (the object itself is level 1). */
  maxAttributesDepth: 32,
  /** Rows of the (actor, context) pair index one attestation writes: distinct actors x contexts. */
  maxPairsPerAttestation: 256,
  /** Pair-index rows of a whole batch. */
  maxPairsPerBatch: 4096,
  /** Rows of a whole batch in every table: one per attestation, one per distinct value, one per pair. */
  maxRowsPerBatch: 6144,
  /** Bytes of text a batch stores: values, ids, sources and attributes (UTF-8). */
  maxBatchBytes: 1_048_576,
  /** Bytes of the values of a batch (UTF-8): each distinct value is also a key of the term index. */
  maxValueBytesPerBatch: 262_144,
  /** Attestations in one put, at most (the configured `max_batch` may be lower). */
  maxBatch: 100_000,
});

/** What a query may ask. */
export const QUERY_LIMITS = Object.freeze({
  /** Results per page, at most. */
  maxLimit: 1000,
  /** Results per page when none is asked for. */
  defaultLimit: 100,
  /** Characters of a filter value (values are no longer). */
  maxFilterChars: INPUT_LIMITS.maxValueChars,
  /** Bytes of stored text one page returns, at most (a page holds at least one attestation). */
  maxPageBytes: 1_048_576,
});

/**
 * How much enforce_limits may remove in one write transaction. A put evicts at most this many rows
 * (an attestation, its value-index and pair-index entries) along with its own writes; what is left
 * waits in the eviction backlog, which the store drains in slices of the same size off the request
 * path. A slice removes at least one attestation, so one stored before the input budget existed
 * (larger than this) still goes, alone in its slice.
 */
export const EVICTION_LIMITS = Object.freeze({
  /** Rows removed per transaction, at most: one per attestation, one per distinct value, one per pair. */
  maxRowsPerTransaction: 2048,
});
