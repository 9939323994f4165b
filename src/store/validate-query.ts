import { StoreError } from './errors.js';
import { isPlainObject } from './json-value.js';

/** A checked query: filters as given, `limit` defaulted. */
export interface ValidQuery {
  readonly subject?: string | undefined;
  readonly predicate?: string | undefined;
  readonly context?: string | undefined;
  readonly actor?: string | undefined;
  readonly limit: number;
}

const FILTERS = ['subject', 'predicate', 'context', 'actor'] as const;
const KEYS: readonly string[] = [...FILTERS, 'limit'];
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** Checks a query: known keys only, filters non-empty strings, limit a whole number 1..1000. */
export function validateQuery(q: unknown): ValidQuery {
  if (q === undefined) return { limit: DEFAULT_LIMIT };
  if (!isPlainObject(q)) throw invalid(undefined, 'query must be an object');
  for (const key of Object.keys(q)) {
    if (KEYS.includes(key)) continue;
    // The plural is the attestation field; the query filters on one value.
    const hint = KEYS.find((k) => k === key.toLowerCase() || `${k}s` === key.toLowerCase());
    throw invalid(
      key,
      `unknown query key ${JSON.stringify(key)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ''}`,
    );
  }
  for (const filter of FILTERS) {
    const value = q[filter];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalid(
        filter,
        `query ${filter} must be a non-empty string (got ${JSON.stringify(value) ?? String(value)})`,
      );
    }
  }
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw invalid(
      'limit',
      `query limit must be a whole number from 1 to ${MAX_LIMIT} (got ${JSON.stringify(limit) ?? String(limit)})`,
    );
  }
  return { ...(q as Partial<Record<(typeof FILTERS)[number], string>>), limit };
}

function invalid(field: string | undefined, message: string): StoreError {
  return new StoreError('ATS_STORE_INVALID', message, { field });
}
