// A primary for the continuous-backup tests: one writer connection set up like the store's
// (WAL, wal_autocheckpoint=0, synchronous=NORMAL), a checkpoint connection like the checkpoint
// job's, and a WalShipper to a folder destination. Everything real: files, SQLite, the WAL.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FolderStore, type ObjectStore, WalShipper } from '../../dist/backup/index.js';

type Log = {
  info(f: object, m: string): void;
  warn(f: object, m: string): void;
  error(f: object, m: string): void;
};
export const quietLog: Log = { info: () => {}, warn: () => {}, error: () => {} };

export interface LogLine {
  event?: string;
  reason?: string;
}

/** A logger that keeps what it was told. */
export function recordingLog(): { log: typeof quietLog; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const keep = (fields: object): void => {
    lines.push(fields as LogLine);
  };
  return { log: { info: keep, warn: keep, error: keep }, lines };
}

export class Primary {
  readonly file: string;
  /** The folder destination under `dir`/remote, with its request counts. */
  readonly folder: FolderStore;
  /** Where the shipper ships: the folder unless the options name another store. */
  readonly store: ObjectStore;
  readonly stagingDir: string;
  readonly db: Database.Database;
  readonly ckpt: Database.Database;
  shipper: WalShipper;
  readonly log = recordingLog();
  #next = 1;
  readonly #now: (() => number) | undefined;

  constructor(
    dir: string,
    options: {
      pageSize?: number;
      autoVacuum?: boolean;
      snapshotIntervalMs?: number;
      store?: ObjectStore;
      /** The shipper's clock (commit times, snapshot times, lineage starts). */
      now?: () => number;
    } = {},
  ) {
    this.#now = options.now;
    this.file = path.join(dir, 'primary.db');
    this.folder = new FolderStore(path.join(dir, 'remote'));
    this.store = options.store ?? this.folder;
    this.stagingDir = path.join(dir, 'staging');
    this.db = new Database(this.file);
    if (options.pageSize) this.db.pragma(`page_size = ${options.pageSize}`);
    if (options.autoVacuum) this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    this.ckpt = new Database(this.file, { timeout: 0 });
    this.#next =
      Number((this.db.prepare('SELECT max(id) AS m FROM t').get() as { m: number | null }).m ?? 0) + 1;
    this.shipper = this.#newShipper(options.snapshotIntervalMs ?? 0);
  }

  #newShipper(snapshotIntervalMs: number): WalShipper {
    return new WalShipper({
      database: this.file,
      store: this.store,
      stagingDir: this.stagingDir,
      snapshotIntervalMs,
      log: this.log.log,
      ...(this.#now ? { now: this.#now } : {}),
    });
  }

  /** A new shipper, as after a restart of the service (the old one is dropped, not stopped). */
  restartShipper(snapshotIntervalMs = 0): WalShipper {
    this.shipper = this.#newShipper(snapshotIntervalMs);
    return this.shipper;
  }

  /** Inserts `n` rows in one transaction; returns their ids. */
  write(n = 1, size = 100): number[] {
    const ids: number[] = [];
    const insert = this.db.prepare('INSERT INTO t (id, body) VALUES (?, ?)');
    this.db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const id = this.#next++;
        insert.run(id, `row ${id} ${'x'.repeat(size)}`);
        ids.push(id);
      }
    })();
    return ids;
  }

  /** A PASSIVE checkpoint behind the seal, as the checkpoint job runs it. */
  checkpoint(): { busy: number; log: number; checkpointed: number } | undefined {
    if (!this.shipper.seal().proceed) return undefined;
    return this.passive();
  }

  /** A PASSIVE checkpoint with no seal (what another process would do). */
  passive(): { busy: number; log: number; checkpointed: number } {
    return (
      this.ckpt.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[]
    )[0] as {
      busy: number;
      log: number;
      checkpointed: number;
    };
  }

  /** A RESTART (or TRUNCATE) checkpoint inside the seal. */
  restart(mode: 'RESTART' | 'TRUNCATE' = 'RESTART'): { busy: number; log: number; checkpointed: number } {
    return this.shipper.sealedRestart(
      () =>
        (
          this.ckpt.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[]
        )[0],
    ) as { busy: number; log: number; checkpointed: number };
  }

  ids(): number[] {
    return (this.db.prepare('SELECT id FROM t ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  }

  close(): void {
    this.ckpt.close();
    this.db.close();
  }
}

/** The ids in a restored database file. */
export function idsIn(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM t ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  } finally {
    db.close();
  }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

export function objectKeys(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  walk(root, '');
  return out.sort();
}
