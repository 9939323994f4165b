import { StoreError } from './errors.js';
import { isPlainObject } from './json-value.js';
import { QUERY_LIMITS } from './limits.js';

/** A checked query: filters as given, `limit` defaulted. */
export interface ValidQuery {
  readonly subject?: string | undefined;
  readonly predicate?: string | undefined;
  readonly context?: string | undefined;
  readonly actor?: string | undefined;
  readonly limit: number;
  /** Where the page starts: strictly older than this (ts, seq), from a cursor. */
  readonly after?: Cursor | undefined;
}

/** A position in the newest-first order: timestamp, then insertion order. */
export interface Cursor {
  readonly ts: number;
  readonly seq: number;
}

const FILTERS = ['subject', 'predicate', 'context', 'actor'] as const;
const KEYS: readonly string[] = [...FILTERS, 'limit', 'after'];
const DEFAULT_LIMIT = QUERY_LIMITS.defaultLimit;
const MAX_LIMIT = QUERY_LIMITS.maxLimit;
/** A cursor as given to clients: opaque, URL-safe. */
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const CURSOR_TEXT = /^v1\.(-?[0-9]{1,16})\.([0-9]{1,16})$/;

/** The cursor a page hands out for the page after `position`. */
export function encodeCursor(position: Cursor): string {
  return Buffer.from(`v1.${position.ts}.${position.seq}`).toString('base64url');
}

/** The position a cursor stands for, or undefined when it is not one of ours. */
export function decodeCursor(cursor: string): Cursor | undefined {
  if (!new RegExp(CURSOR_PATTERN).test(cursor)) return undefined;
  const m = CURSOR_TEXT.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (m === null) return undefined;
  const ts = Number(m[1]);
  const seq = Number(m[2]);
  return Number.isSafeInteger(ts) && Number.isSafeInteger(seq) ? { ts, seq } : undefined;
}

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
  let after: Cursor | undefined;
  if (q.after !== undefined) {
    after = typeof q.after === 'string' ? decodeCursor(q.after) : undefined;
    if (after === undefined)
      throw invalid(
        'after',
        `query after must be the "next" cursor of an earlier page (got ${JSON.stringify(q.after) ?? String(q.after)})`,
      );
  }
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw invalid(
      'limit',
      `query limit must be a whole number from 1 to ${MAX_LIMIT} (got ${JSON.stringify(limit) ?? String(limit)})`,
    );
  }
  const filters = Object.fromEntries(FILTERS.filter((f) => q[f] !== undefined).map((f) => [f, q[f]]));
  return { ...(filters as Partial<Record<(typeof FILTERS)[number], string>>), limit, after };
}

function invalid(field: string | undefined, message: string): StoreError {
  return new StoreError('ATS_STORE_INVALID', message, { field });
}
