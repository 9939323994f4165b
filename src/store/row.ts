import type { Attestation } from './attestation.js';

/** The columns read back from `attestations`. */
export interface AttestationRow {
  readonly seq: number;
  readonly id: string;
  readonly ts: number;
  readonly subjects: string;
  readonly predicates: string;
  readonly contexts: string;
  readonly actors: string;
  readonly source: string;
  readonly attributes: string;
}

/** The column list matching {@link AttestationRow}, for SELECTs from `attestations` aliased `a`. */
export const ROW_COLUMNS =
  'a.seq, a.id, a.ts, a.subjects, a.predicates, a.contexts, a.actors, a.source, a.attributes';

/** A stored row as the caller sees it. */
export function toAttestation(row: AttestationRow): Attestation {
  return {
    id: row.id,
    subjects: JSON.parse(row.subjects) as string[],
    predicates: JSON.parse(row.predicates) as string[],
    contexts: JSON.parse(row.contexts) as string[],
    actors: JSON.parse(row.actors) as string[],
    timestamp: new Date(row.ts).toISOString(),
    source: row.source,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
  };
}

/** Bytes of stored text in a row, which is about what it adds to a JSON response. */
export function rowBytes(row: AttestationRow): number {
  return (
    Buffer.byteLength(row.id) +
    Buffer.byteLength(row.subjects) +
    Buffer.byteLength(row.predicates) +
    Buffer.byteLength(row.contexts) +
    Buffer.byteLength(row.actors) +
    Buffer.byteLength(row.source) +
    Buffer.byteLength(row.attributes) +
    120 // keys, timestamp, quotes
  );
}
