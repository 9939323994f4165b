import type Database from 'better-sqlite3';

/**
 * The shape of an ATS attestation table (with {@link ATS_INDEXES}): who (`subjects`) is what (`predicates`) in which
 * `contexts`, said by whom (`actors`), with free JSON `attributes`, and an index on each of the four.
 */
export const ATS_TABLE = `
CREATE TABLE IF NOT EXISTS attestations (
  id TEXT PRIMARY KEY,
  subjects TEXT NOT NULL,
  predicates TEXT NOT NULL,
  contexts TEXT NOT NULL,
  actors TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  source TEXT NOT NULL,
  attributes TEXT,
  created_at TEXT NOT NULL
);`;

/** The four value indexes of {@link ATS_TABLE}. */
export const ATS_INDEXES = `
CREATE INDEX IF NOT EXISTS idx_attestations_subjects ON attestations (subjects);
CREATE INDEX IF NOT EXISTS idx_attestations_predicates ON attestations (predicates);
CREATE INDEX IF NOT EXISTS idx_attestations_contexts ON attestations (contexts);
CREATE INDEX IF NOT EXISTS idx_attestations_actors ON attestations (actors);
`;

const PREDICATES = [
  'member_of',
  'owns',
  'reviewed',
  'deployed',
  'depends_on',
  'authored',
  'approved',
  'mentions',
];
const SOURCES = ['github', 'slack', 'ci', 'manual', 'import'];

/** One attestation as the JSON body of `POST /attestations` takes it. */
export interface Attestation {
  readonly subjects: string[];
  readonly predicates: string[];
  readonly contexts: string[];
  readonly actors: string[];
  readonly attributes: Record<string, unknown>;
}

/** A small seeded generator of ATS-like attestations, so every dataset is the same for a seed. */
export class AttestationGenerator {
  #state: number;
  #n = 0;
  readonly #padding: string;

  /** `paddingBytes` adds a free-text attribute of that size (richer attestations, fewer per GB). */
  constructor(seed: number, paddingBytes = 0) {
    this.#state = seed >>> 0 || 1;
    this.#padding = 'lorem ipsum dolor sit amet, consectetur adipiscing elit; '
      .repeat(Math.ceil(paddingBytes / 57))
      .slice(0, paddingBytes);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    // mulberry32
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  }

  next(): Attestation {
    const n = this.#n++;
    const subjects = Array.from({ length: 1 + this.int(3) }, () => `user:${this.int(200_000)}`);
    return {
      subjects,
      predicates: [PREDICATES[this.int(PREDICATES.length)] ?? 'member_of'],
      contexts: [`team:${this.int(5_000)}`, `repo:${this.int(20_000)}`].slice(0, 1 + this.int(2)),
      actors: [`actor:${SOURCES[this.int(SOURCES.length)] ?? 'manual'}-sync@host${this.int(50)}`],
      attributes: {
        seq: n,
        weight: this.int(1000) / 10,
        tags: Array.from({ length: this.int(4) }, () => `tag${this.int(300)}`),
        note: 'lorem ipsum dolor sit amet '.repeat(1 + this.int(6)),
        ...(this.#padding ? { description: this.#padding } : {}),
      },
    };
  }

  /** A unique id shaped like an ASID. */
  id(): string {
    return `AS${this.int(0x7fffffff).toString(36)}${this.int(0x7fffffff).toString(36)}${this.#n.toString(36)}`;
  }
}

/** A prepared insert of one attestation row; returns nothing, throws SQLite's error. */
export type InsertAttestation = (a: Attestation, id: string) => void;

/** Prepares the insert statement on `db` (which must already hold {@link ATS_TABLE}). */
export function prepareInsert(db: Database.Database, source = 'bench'): InsertAttestation {
  const stmt = db.prepare(
    'INSERT INTO attestations (id, subjects, predicates, contexts, actors, timestamp, source, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return (a, id) => {
    const now = new Date().toISOString();
    stmt.run(
      id,
      JSON.stringify(a.subjects),
      JSON.stringify(a.predicates),
      JSON.stringify(a.contexts),
      JSON.stringify(a.actors),
      now,
      source,
      JSON.stringify(a.attributes),
      now,
    );
  };
}
