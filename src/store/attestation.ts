/** What a caller puts: "subjects are predicates of contexts by actors". */
export interface AttestationInput {
  /** Unique id; default a random UUID. */
  id?: string;
  subjects: string[];
  predicates: string[];
  contexts: string[];
  actors: string[];
  /** ISO 8601 with a time zone (or a bare date, read as UTC); default now. */
  timestamp?: string;
  /** Default ''. */
  source?: string;
  /** A plain JSON object; default {}. */
  attributes?: Record<string, unknown>;
}

/** A stored attestation. `timestamp` is normalized to UTC with milliseconds (`toISOString()`). */
export interface Attestation {
  id: string;
  subjects: string[];
  predicates: string[];
  contexts: string[];
  actors: string[];
  timestamp: string;
  source: string;
  attributes: Record<string, unknown>;
}

/** Filters of a query, combined with AND. */
export interface AttestationQuery {
  subject?: string;
  predicate?: string;
  context?: string;
  actor?: string;
  /** Most results, 1 to 1000; default 100. */
  limit?: number;
  /** The `next` cursor of the previous page: this page starts strictly after it. */
  after?: string;
}

/** One page of a query: at most `limit` attestations and about QUERY_LIMITS.maxPageBytes of text. */
export interface AttestationPage {
  attestations: Attestation[];
  /** Cursor of the following page (`after`), or null when this is the last. */
  next: string | null;
}

/** Counts and file sizes of a store. */
export interface StoreStats {
  attestations: number;
  /** Distinct values of each kind. */
  subjects: number;
  predicates: number;
  contexts: number;
  actors: number;
  /** Size on disk of the database file and of its write-ahead log. */
  databaseBytes: number;
  walBytes: number;
  /** (actor, context) pairs waiting for the background drain to remove their excess. */
  evictionBacklog: number;
}

/** Limits the store enforces (from `[ATS]` in am.toml). */
export interface StoreLimits {
  /** enforce_limits keeps at most this many attestations per (actor, context); the oldest go first. */
  maxPerActorContext: number;
  /** Most attestations in one put. */
  maxBatch: number;
}

/** The four value kinds, in storage order: the position is the kind number stored in `terms`. */
export const KINDS = ['subjects', 'predicates', 'contexts', 'actors'] as const;

/** One of {@link KINDS}; each is also the name of its index table. */
export type Kind = (typeof KINDS)[number];
