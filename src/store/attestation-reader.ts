import fs from 'node:fs';
import type Database from 'better-sqlite3';
import {
  type Attestation,
  type AttestationPage,
  type AttestationQuery,
  KINDS,
  type Kind,
  type StoreStats,
} from './attestation.js';
import { QUERY_LIMITS } from './limits.js';
import { type AttestationRow, ROW_COLUMNS, rowBytes, toAttestation } from './row.js';
import { encodeCursor, validateQuery } from './validate-query.js';

/** The index a query walks: one value table, or the (actor, context) pair index. */
type Filter = Kind | 'pair';

/** A query shape: its SQL and the filters whose term ids it binds, in order. */
interface Plan {
  readonly statement: Database.Statement<number[], AttestationRow>;
  readonly binds: readonly Kind[];
}

const FILTER_KIND = {
  subject: 'subjects',
  predicate: 'predicates',
  context: 'contexts',
  actor: 'actors',
} as const;
// Which filter walks its index when several are given: predicates are usually the least selective.
const DRIVE_ORDER: readonly Kind[] = ['subjects', 'contexts', 'actors', 'predicates'];

/** Every read of the store: get, query and stats. Statements are prepared once (query plans on first use). */
export class AttestationReader {
  readonly #db: Database.Database;
  readonly #file: string;
  readonly #plans = new Map<string, Plan>();
  readonly #s;

  constructor(db: Database.Database, file: string) {
    this.#db = db;
    this.#file = file;
    this.#s = {
      byId: db.prepare<[string], AttestationRow>(`SELECT ${ROW_COLUMNS} FROM attestations a WHERE a.id = ?`),
      term: db
        .prepare<[number, string], number>('SELECT term FROM terms WHERE kind = ? AND value = ?')
        .pluck(),
      counters: db.prepare<[], { name: string; n: number }>('SELECT name, n FROM counters'),
    };
  }

  readonly get = (id: string): Attestation | undefined => {
    const row = this.#s.byId.get(id);
    return row === undefined ? undefined : toAttestation(row);
  };

  /**
   * One page, newest first: at most `limit` attestations and about `maxPageBytes` of text (always
   * at least one). The cursor is a position (ts, seq), so a write between pages neither repeats
   * nor skips an attestation that exists on both sides of it.
   */
  readonly page = (q: AttestationQuery, maxPageBytes = QUERY_LIMITS.maxPageBytes): AttestationPage => {
    const valid = validateQuery(q);
    const terms = new Map<Kind, number>();
    for (const [filter, kind] of Object.entries(FILTER_KIND) as [keyof typeof FILTER_KIND, Kind][]) {
      const value = valid[filter];
      if (value === undefined) continue;
      const term = this.#s.term.get(KINDS.indexOf(kind), value);
      if (term === undefined) return { attestations: [], next: null }; // an unused value matches nothing
      terms.set(kind, term);
    }
    const plan = this.#plan([...terms.keys()], valid.after !== undefined);
    const binds = plan.binds.map((kind) => terms.get(kind) ?? 0);
    const after = valid.after === undefined ? [] : [valid.after.ts, valid.after.seq];
    const rows: AttestationRow[] = [];
    let bytes = 0;
    let more = false;
    // limit + 1: the extra row only says whether there is a next page.
    for (const row of plan.statement.iterate(...binds, ...after, valid.limit + 1)) {
      bytes += rowBytes(row);
      if (rows.length === valid.limit || (rows.length > 0 && bytes > maxPageBytes)) {
        more = true;
        break;
      }
      rows.push(row);
    }
    const last = rows.at(-1);
    return {
      attestations: rows.map(toAttestation),
      next: more && last !== undefined ? encodeCursor({ ts: last.ts, seq: last.seq }) : null,
    };
  };

  readonly query = (q: AttestationQuery): Attestation[] => this.page(q).attestations;

  readonly stats = (): Omit<StoreStats, 'evictionBacklog'> => {
    const counts = new Map(this.#s.counters.all().map((row) => [row.name, row.n]));
    const n = (name: string): number => counts.get(name) ?? 0;
    return {
      attestations: n('attestations'),
      subjects: n('subjects'),
      predicates: n('predicates'),
      contexts: n('contexts'),
      actors: n('actors'),
      databaseBytes: fileSize(this.#file),
      walBytes: fileSize(`${this.#file}-wal`),
    };
  };

  /**
   * The statement for a set of filters, built once per shape. One index drives the walk in
   * (ts, attestation) order, newest first, so LIMIT stops it early; every other filter is a
   * primary-key probe of its own index table. With both actor and context, the pair index drives.
   */
  #plan(kinds: readonly Kind[], paged: boolean): Plan {
    const key = `${kinds.join(',')}${paged ? '+after' : ''}`;
    const cached = this.#plans.get(key);
    if (cached !== undefined) return cached;
    const pair = kinds.includes('actors') && kinds.includes('contexts');
    const driver: Filter | undefined = pair ? 'pair' : DRIVE_ORDER.find((kind) => kinds.includes(kind));
    const probes = kinds.filter(
      (kind) => !(pair ? kind === 'actors' || kind === 'contexts' : kind === driver),
    );
    const exists = probes.map(
      (kind) =>
        `AND EXISTS (SELECT 1 FROM ${kind} x WHERE x.term = ? AND x.ts = d.ts AND x.attestation = d.attestation)`,
    );
    let sql: string;
    let binds: Kind[];
    if (driver === undefined) {
      const where = paged ? 'WHERE (a.ts, a.seq) < (?, ?)' : '';
      sql = `SELECT ${ROW_COLUMNS} FROM attestations a ${where} ORDER BY a.ts DESC, a.seq DESC LIMIT ?`;
      binds = [];
    } else {
      // CROSS JOIN pins the join order: the index table outside, attestations looked up by seq.
      const from = driver === 'pair' ? 'actor_contexts d' : `${driver} d`;
      const where = driver === 'pair' ? 'd.actor = ? AND d.context = ?' : 'd.term = ?';
      const cursor = paged ? 'AND (d.ts, d.attestation) < (?, ?)' : '';
      sql = `SELECT ${ROW_COLUMNS} FROM ${from} CROSS JOIN attestations a ON a.seq = d.attestation
        WHERE ${where} ${exists.join(' ')} ${cursor} ORDER BY d.ts DESC, d.attestation DESC LIMIT ?`;
      binds = [...(driver === 'pair' ? (['actors', 'contexts'] as const) : [driver]), ...probes];
    }
    const plan = { statement: this.#db.prepare<number[], AttestationRow>(sql), binds };
    this.#plans.set(key, plan);
    return plan;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
