import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackupError, reasonOf } from '../errors.js';
import { faultPoint } from '../fault-points.js';
import { databaseFd, pinnedPages } from './database-pages.js';
import type { ObjectStore } from './destination.js';
import { lineageKey, parseKey, parseLineageDir, segmentKey, snapshotKey } from './object-names.js';
import { DatabaseChecksum, formatChecksum } from './page-checksum.js';
import {
  checkObject,
  decodeHeader,
  HEADER_BYTES,
  type ObjectHeader,
  ObjectWriter,
  readObject,
} from './segment-format.js';
import { readWalIndex, type WalIndexState } from './shm-header.js';
import {
  FRAME_HEADER_BYTES,
  samePosition,
  scanWal,
  startOf,
  WAL_HEADER_BYTES,
  type WalPosition,
  type WalTransaction,
} from './wal-file.js';

/** What the shipper logs through (pino's shape). */
export interface ShipperLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Settings of a {@link WalShipper}. */
export interface ShipperOptions {
  readonly database: string;
  readonly store: ObjectStore;
  /** Local folder for objects sealed but not yet uploaded (durable: they survive a crash). */
  readonly stagingDir: string;
  /** A fresh snapshot this often (0: only when the chain needs one). */
  readonly snapshotIntervalMs: number;
  readonly log: ShipperLogger;
  readonly now?: () => number;
}

/** Where the shipper is, for `/healthz`, the wait endpoint and tests. */
export interface ShipperPosition {
  readonly lineage: string;
  /** Last transaction sealed (staged durably) and last one uploaded. */
  readonly sealedTxid: bigint;
  readonly uploadedTxid: bigint;
  readonly checksum: string;
  readonly snapshots: number;
  readonly segments: number;
}

/** A transaction of a lineage: what a write is told, and what a client may wait for. */
export interface LogPosition {
  readonly lineage: string;
  readonly txid: bigint;
}

/** How a wait for a position ended (see `WalShipper.waitUploaded`). */
export type UploadWait =
  | { readonly kind: 'uploaded'; readonly uploaded: LogPosition }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'unknown'; readonly reason: string };

interface Waiter {
  /** A transaction of the current lineage (1, its snapshot, once a new lineage starts). */
  txid: bigint;
  readonly settle: (outcome: UploadWait) => void;
}

/** Where `commitPosition` has counted to, valid while the staged position and txid it started from hold. */
interface CommitCursor {
  readonly from: WalPosition | undefined;
  readonly nextTxid: bigint;
  readonly salt1: number;
  readonly salt2: number;
  readonly frame: number;
  readonly txid: bigint;
}

/** What a seal said about the checkpoint step that follows it. */
export interface SealResult {
  /** False: skip this step (the WAL is fully copied already; a checkpoint now could only outrun the shipper). */
  readonly proceed: boolean;
}

/** A commit seen by `noteCommit`: when, and the WAL's end then. */
interface ClockEntry {
  readonly t: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly frame: number;
}

interface Lineage {
  readonly id: string;
  readonly dir: string;
}

const PIN_TRIES = 5;

/**
 * Ships every committed WAL transaction of one database to an object store, as immutable objects
 * (`segment-format.ts`) of one lineage: a snapshot, then segments of contiguous transaction ids.
 *
 * Why no frame is lost: a frame is overwritten only when the WAL restarts, and a restart needs
 * every read mark 1..4 free (wal.c walRestartLog, RESTART/TRUNCATE checkpoints). The shipper's own
 * read-only connection (the pin) holds a read transaction at all times; it moves only inside
 * `seal()`, synchronously after every committed frame up to the WAL's end was staged, so a pin
 * always sits at a fully staged end. Pinned at mark >= 1 nothing can restart the WAL or checkpoint
 * past the pin; pinned at mark 0 (the WAL was fully checkpointed) nobody can checkpoint at all, so at
 * most one restart can follow, and it overwrites only frames already staged. The checkpoint job
 * calls `seal()` before every step (and `sealedRestart` wraps the steps that restart the WAL).
 * Anything else (a generation gone by unseen, frames that no longer match, a database whose
 * checksum is not the one last shipped) starts a new lineage with a snapshot: never a gap.
 */
export class WalShipper {
  readonly #o: ShipperOptions;
  readonly #now: () => number;
  #pin: Database.Database | undefined;
  #pinMark0 = false;
  #movesLeft = 0;
  #lineage: Lineage | undefined;
  #pageSize = 0;
  #pos: WalPosition | undefined;
  #nextTxid = 1n;
  #sums = new DatabaseChecksum();
  #uploadedTxid = 0n;
  #staged: string[] = [];
  #stagedCount = 0;
  #snapshotAt = 0;
  /** The txid of this run's last snapshot (0: none yet). */
  #snapshotTxid = 0n;
  #snapshotting = false;
  /** A lineage's first snapshot whose upload failed: uploaded before any segment of the lineage. */
  #pendingSnapshot: { key: string; file: string; txid: bigint } | undefined;
  #doubt: string | undefined;
  #counts = { snapshots: 0, segments: 0 };
  #uploading: Promise<void> | undefined;
  /** The settle list: waiters of the current lineage, by txid; settled by uploads, failures, stop. */
  #waiters = new Set<Waiter>();
  /** Lineages this process shipped before the current one (their writes are in its first snapshot). */
  readonly #pastLineages = new Set<string>();
  #cursor: CommitCursor | undefined;
  #stopped = false;
  #clock: ClockEntry[] = [];
  #clockFd: number | undefined;

  constructor(options: ShipperOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether a snapshot is being taken (the pin stays put meanwhile; restarts must wait). */
  get snapshotting(): boolean {
    return this.#snapshotting;
  }

  /** The position, or undefined before `start()`. */
  get position(): ShipperPosition | undefined {
    if (this.#lineage === undefined) return undefined;
    return {
      lineage: this.#lineage.id,
      sealedTxid: this.#nextTxid - 1n,
      uploadedTxid: this.#uploadedTxid,
      checksum: formatChecksum(this.#sums.total),
      snapshots: this.#counts.snapshots,
      segments: this.#counts.segments,
    };
  }

  /**
   * Uploads what an earlier run sealed, pins the database, and resumes the newest lineage when the
   * database provably continues it (same WAL generation and frames, or the same rolling checksum);
   * otherwise starts a new lineage with a snapshot. Call before the database takes writes.
   */
  async start(): Promise<void> {
    fs.mkdirSync(this.#o.stagingDir, { recursive: true });
    // Read-write, so it opens the WAL (and -shm) even when no other connection has: a read-only
    // connection on a WAL database without them reads the file alone. It never writes (query_only).
    this.#pin = new Database(this.#o.database, { fileMustExist: true, timeout: 5000 });
    this.#pin.pragma('query_only = 1');
    this.#pin.prepare('SELECT 1 FROM sqlite_master LIMIT 1').all(); // the mode is known once the file is read
    if (String(this.#pin.pragma('journal_mode', { simple: true })) !== 'wal')
      throw new BackupError(
        'ATS_BACKUP_SOURCE',
        'continuous backup',
        this.#o.database,
        'the database is not in WAL mode: continuous backup ships the WAL',
      );
    this.#loadClock();
    await this.#uploadLeftovers();
    const remote = await this.#newestRemote();
    this.#repin();
    const resumed = remote !== undefined && this.#resume(remote);
    if (!resumed)
      await this.#newLineage(remote === undefined ? 'no earlier backup' : (this.#doubt ?? 'no match'));
    this.#doubt = undefined;
  }

  /**
   * Stamps the time of the commits now in the WAL: call after a write commits and before it is
   * acknowledged. A transaction's recorded time is the first stamp at or after its commit (or, with
   * none, when the shipper read it), so it lies between its commit and its acknowledgement, and a
   * restore `--at T` holds every write acknowledged before T and none begun after T. Stamps go to a
   * small file beside the staged objects (written, not fsynced: they survive the process, like the WAL).
   */
  noteCommit(): void {
    const idx = this.#index();
    if (idx === undefined) return;
    const e: ClockEntry = { t: this.#now(), salt1: idx.salt1, salt2: idx.salt2, frame: idx.mxFrame };
    this.#clock.push(e);
    if (this.#clockFd === undefined) this.#clockFd = fs.openSync(this.#clockPath(), 'a');
    fs.writeSync(this.#clockFd, `${e.t} ${e.salt1} ${e.salt2} ${e.frame}\n`);
  }

  #clockPath(): string {
    return path.join(this.#o.stagingDir, 'commit-clock');
  }

  #loadClock(): void {
    const text = fs.existsSync(this.#clockPath()) ? fs.readFileSync(this.#clockPath(), 'utf8') : '';
    this.#clock = text
      .split('\n')
      .map((line) => line.split(' ').map(Number))
      .filter((f) => f.length === 4 && f.every(Number.isFinite))
      .map(([t, salt1, salt2, frame]) => ({ t, salt1, salt2, frame }) as ClockEntry);
  }

  /** The recorded time of a transaction ending at `end`; consumes the stamps up to the one used. */
  #timeOf(end: WalPosition, now: number): number {
    const i = this.#clock.findIndex(
      (e) => e.salt1 === end.salt1 && e.salt2 === end.salt2 && e.frame >= end.frame,
    );
    if (i < 0) return now;
    const t = Math.min(now, (this.#clock[i] as ClockEntry).t);
    // Stamps before it are of earlier transactions (or generations): done with.
    if (i > 0) this.#clock.splice(0, i);
    return t;
  }

  /** Rewrites the stamps file with the stamps not used yet. */
  #saveClock(): void {
    if (this.#clockFd === undefined) this.#clockFd = fs.openSync(this.#clockPath(), 'a');
    fs.ftruncateSync(this.#clockFd, 0);
    if (this.#clock.length > 0)
      fs.writeSync(
        this.#clockFd,
        this.#clock.map((e) => `${e.t} ${e.salt1} ${e.salt2} ${e.frame}\n`).join(''),
      );
  }

  /**
   * The seal, called synchronously right before every checkpoint step: stages every committed
   * frame up to the WAL's end, then moves the pin there. Returns proceed=false when the step must be
   * skipped (the pin landed on mark 0: the WAL is fully checkpointed already, and a checkpoint now
   * could copy and so let the log restart over frames committed after this seal).
   */
  seal(): SealResult {
    this.#stage();
    if (this.#snapshotting) return { proceed: true }; // the pin stays: the snapshot reads under it
    return { proceed: this.#repin() && !this.#pinMark0 };
  }

  /**
   * Runs a checkpoint that restarts the WAL (`run`, synchronous, e.g. RESTART or TRUNCATE on a
   * connection of this thread) between a seal and a new pin, with nothing of this process able to
   * commit in between: no frame can be written between the seal and the restart.
   */
  sealedRestart<T>(run: () => T): T {
    this.#stage();
    if (this.#snapshotting)
      throw new BackupError('ATS_BACKUP_BUSY', 'seal', this.#o.database, 'a snapshot is being taken');
    this.#pin?.exec('COMMIT');
    try {
      return run();
    } finally {
      this.#repin();
    }
  }

  /** The per-interval cycle: stage new transactions, then upload what is staged (nothing if nothing changed). */
  async sync(): Promise<void> {
    this.#stage();
    if (this.#doubt !== undefined) {
      const why = this.#doubt;
      this.#doubt = undefined;
      await this.#newLineage(why);
    } else if (
      this.#o.snapshotIntervalMs > 0 &&
      this.#now() - this.#snapshotAt >= this.#o.snapshotIntervalMs &&
      this.#nextTxid - 1n > this.#snapshotTxid // idle: no snapshot of what the last one holds (sequence 7)
    ) {
      await this.#periodicSnapshot();
    }
    await this.upload();
  }

  /** Uploads staged objects, merged into one object per call. */
  async upload(): Promise<void> {
    while (this.#uploading !== undefined) await this.#uploading;
    if (this.#staged.length === 0 && this.#pendingSnapshot === undefined) return;
    this.#uploading = this.#uploadStaged().finally(() => {
      this.#uploading = undefined;
    });
    await this.#uploading;
  }

  /** Resolves once transaction `txid` of the current lineage is uploaded. */
  async whenUploaded(txid: bigint): Promise<void> {
    const lineage = this.#lineage?.id;
    if (lineage === undefined) throw new Error('whenUploaded before start');
    const outcome = await this.waitUploaded({ lineage, txid }).done;
    if (outcome.kind !== 'uploaded') throw new Error(`not uploaded: ${outcome.kind}`);
  }

  /**
   * The position of the newest transaction committed in the WAL now: after a write commits, at
   * or after that write's own transaction (a later commit may have landed meanwhile, which only
   * makes a wait for it longer). Reads the headers of the frames written since the last call (a
   * few bytes each), never the pages. Undefined before `start()`.
   */
  commitPosition(): LogPosition | undefined {
    const lineage = this.#lineage;
    if (lineage === undefined || this.#pageSize === 0) return undefined;
    const idx = this.#index();
    // While a lineage's first snapshot is taken it is txid 1 (#nextTxid moves to 2 when it is done).
    const base = this.#nextTxid === 1n ? 1n : this.#nextTxid - 1n;
    if (idx === undefined) return { lineage: lineage.id, txid: base };
    let c = this.#cursor;
    if (c === undefined || c.from !== this.#pos || c.nextTxid !== this.#nextTxid) {
      const pos = this.#pos;
      c = {
        from: pos,
        nextTxid: this.#nextTxid,
        salt1: pos?.salt1 ?? idx.salt1,
        salt2: pos?.salt2 ?? idx.salt2,
        frame: pos?.frame ?? 0,
        txid: base,
      };
    }
    if (c.salt1 !== idx.salt1 || c.salt2 !== idx.salt2)
      // The log restarted after the staged end (the seal staged the generation before it): count
      // the new generation from its first frame.
      c = { ...c, salt1: idx.salt1, salt2: idx.salt2, frame: 0 };
    if (idx.mxFrame > c.frame) c = { ...c, ...this.#countCommits(c, idx.mxFrame) };
    this.#cursor = c;
    return { lineage: lineage.id, txid: c.txid };
  }

  /** Counts commit frames in (c.frame, to] of c's generation: the frames' headers only. */
  #countCommits(c: CommitCursor, to: number): { frame: number; txid: bigint } {
    let txid = c.txid;
    let frame = c.frame;
    let fd: number;
    try {
      fd = fs.openSync(`${this.#o.database}-wal`, 'r');
    } catch {
      return { frame, txid: txid + 1n };
    }
    try {
      const fh = Buffer.alloc(16);
      const frameBytes = FRAME_HEADER_BYTES + this.#pageSize;
      for (let i = frame + 1; i <= to; i++) {
        const n = fs.readSync(fd, fh, 0, 16, WAL_HEADER_BYTES + (i - 1) * frameBytes);
        if (n !== 16 || fh.readUInt32BE(8) !== c.salt1 || fh.readUInt32BE(12) !== c.salt2) {
          // Not the frames the index says (the log moved): the next sync sorts it out; the
          // position is one past what was counted, never below the write's own transaction.
          return { frame, txid: txid + 1n };
        }
        if (fh.readUInt32BE(4) !== 0) txid++;
        frame = i;
      }
    } finally {
      fs.closeSync(fd); // -wal carries no SQLite locks
    }
    return { frame, txid };
  }

  /**
   * Waits until `position` is uploaded: one entry in the settle list, settled by the upload that
   * covers it, the next failed upload (`fail`), `stop()`, or `cancel()` (the caller's timeout). A
   * position of a lineage this process shipped before the current one is covered by the current
   * lineage's first snapshot (it holds every commit made before it was pinned).
   */
  waitUploaded(position: LogPosition): { done: Promise<UploadWait>; cancel: () => void } {
    const lineage = this.#lineage;
    const uploaded = (): UploadWait => ({
      kind: 'uploaded',
      uploaded: { lineage: (this.#lineage as Lineage).id, txid: this.#uploadedTxid },
    });
    const now = (outcome: UploadWait) => ({ done: Promise.resolve(outcome), cancel: () => undefined });
    if (this.#stopped || lineage === undefined) return now({ kind: 'stopped' });
    let txid = position.txid;
    if (position.lineage !== lineage.id) {
      if (!this.#pastLineages.has(position.lineage))
        return now({
          kind: 'unknown',
          reason: `lineage ${position.lineage} is not one this server has shipped since it started (it ships ${lineage.id})`,
        });
      txid = 1n;
    } else {
      const newest = this.commitPosition()?.txid ?? 0n;
      if (txid > newest)
        return now({
          kind: 'unknown',
          reason: `transaction ${txid} of lineage ${lineage.id} is not committed yet (the newest is ${newest})`,
        });
    }
    if (txid <= this.#uploadedTxid) return now(uploaded());
    let waiter: Waiter | undefined;
    const done = new Promise<UploadWait>((resolve) => {
      waiter = {
        txid,
        settle: (outcome) => {
          this.#waiters.delete(waiter as Waiter);
          resolve(outcome);
        },
      };
      this.#waiters.add(waiter);
    });
    return { done, cancel: () => waiter?.settle({ kind: 'cancelled' }) };
  }

  /** Settles every waiter with a failure: an upload (or a sync) failed for `reason`. */
  fail(reason: string): void {
    for (const w of [...this.#waiters]) w.settle({ kind: 'failed', reason });
  }

  /** Last seal and upload, then the pin's connection is closed. */
  async stop(): Promise<void> {
    try {
      this.#stage();
      await this.upload();
    } finally {
      this.#stopped = true;
      for (const w of [...this.#waiters]) w.settle({ kind: 'stopped' });
      this.#pin?.close();
      this.#pin = undefined;
      if (this.#clockFd !== undefined) fs.closeSync(this.#clockFd);
      this.#clockFd = undefined;
    }
  }

  /** Drops the pin with no last seal or upload: what a crash of the process leaves behind. */
  abandon(): void {
    this.#stopped = true;
    for (const w of [...this.#waiters]) w.settle({ kind: 'stopped' });
    this.#pin?.close();
    this.#pin = undefined;
  }

  // ---- staging ---------------------------------------------------------------------------------

  /** Reads every committed transaction after the position into one staged object (fsynced). */
  #stage(): void {
    if (this.#lineage === undefined || this.#doubt !== undefined || this.#snapshotting) return;
    const txns = this.#scan();
    if (txns === undefined || txns.length === 0) return;
    const first = this.#nextTxid;
    const last = first + BigInt(txns.length) - 1n;
    const pre = this.#sums.total;
    const now = this.#now();
    const times = txns.map((t) => this.#timeOf(t.end, now));
    const name = `${String(++this.#stagedCount).padStart(8, '0')}.stage`;
    const file = path.join(this.#o.stagingDir, name);
    const writer = new ObjectWriter(`${file}.tmp`, this.#pageSize);
    try {
      let txid = first;
      for (const [i, t] of txns.entries()) {
        const timeMs = times[i] as number;
        for (const [pgno, page] of t.pages) this.#sums.set(pgno, page);
        this.#sums.resize(t.commitPages);
        writer.record({
          txid,
          timeMs,
          commitPages: t.commitPages,
          pageCount: t.pages.size,
          postChecksum: this.#sums.total,
        });
        for (const [pgno, page] of t.pages) writer.page(pgno, page);
        txid++;
      }
      const end = txns[txns.length - 1]?.end as WalPosition;
      writer.finish(
        this.#header(
          'segment',
          first,
          last,
          times[0] as number,
          times.at(-1) as number,
          pre,
          end,
          txns.at(-1)?.commitPages ?? 0,
        ),
      );
      fs.renameSync(`${file}.tmp`, file);
      fsyncDirSync(this.#o.stagingDir);
      this.#pos = end;
      this.#nextTxid = last + 1n;
      this.#staged.push(file);
      // Stamps of staged transactions are done with; later ones (of commits not read yet) stay.
      this.#clock = this.#clock.filter(
        (e) => !(e.salt1 === end.salt1 && e.salt2 === end.salt2 && e.frame <= end.frame),
      );
      this.#saveClock();
      faultPoint('wal-staged');
    } catch (err) {
      writer.abandon();
      fs.rmSync(`${file}.tmp`, { force: true });
      throw new BackupError('ATS_BACKUP_COPY', 'stage WAL', file, reasonOf(err), { cause: err });
    }
  }

  /** New committed transactions after the position, or undefined (doubt set) when the WAL moved unseen. */
  #scan(): WalTransaction[] | undefined {
    const wal = `${this.#o.database}-wal`;
    let fd: number;
    try {
      fd = fs.openSync(wal, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      let scan = scanWal(fd, this.#pos, Number.POSITIVE_INFINITY);
      if (scan.kind === 'empty') return [];
      if (scan.kind === 'moved') {
        // One restart may follow a pin on mark 0, which was taken with everything staged: under a
        // mark-0 reader no checkpoint can copy a frame (it needs read lock 0 exclusively), so a
        // second restart, which would need the first one's frames copied, cannot happen. (The new
        // salts say nothing: a connection that never restarted the log itself picks random ones.)
        if (this.#movesLeft === 0 || scan.header.pageSize !== this.#pageSize) {
          this.#doubt = `the WAL moved while not watched (${scan.reason})`;
          this.#o.log.warn(
            { event: 'wal_doubt', reason: this.#doubt },
            'continuous backup starts a new lineage',
          );
          return undefined;
        }
        this.#movesLeft--;
        scan = scanWal(fd, startOf(scan.header), Number.POSITIVE_INFINITY);
        if (scan.kind !== 'continues') return [];
      }
      return [...scan.transactions];
    } finally {
      fs.closeSync(fd); // -wal carries no SQLite locks
    }
  }

  /**
   * Moves the pin to the WAL's end, which must be the staged end (else stage again). Returns false
   * when it could not (an outside writer keeps committing): the step is skipped, the old pin is gone.
   */
  #repin(): boolean {
    const pin = this.#pin;
    if (pin === undefined) return false;
    for (let i = 0; i < PIN_TRIES; i++) {
      if (pin.inTransaction) pin.exec('COMMIT');
      pin.exec('BEGIN');
      pin.prepare('SELECT 1 FROM sqlite_master LIMIT 1').all();
      const idx = this.#index();
      if (idx === undefined) continue;
      const pos = this.#pos;
      const atEnd =
        this.#lineage === undefined ||
        idx.mxFrame === 0 ||
        (pos !== undefined &&
          pos.salt1 === idx.salt1 &&
          pos.salt2 === idx.salt2 &&
          pos.frame === idx.mxFrame);
      this.#pinMark0 = idx.nBackfill >= idx.mxFrame;
      if (atEnd) {
        this.#movesLeft = this.#pinMark0 ? 1 : 0;
        return true;
      }
      this.#stage();
    }
    this.#movesLeft = 0;
    return false;
  }

  #index(): WalIndexState | undefined {
    for (let i = 0; i < 100; i++) {
      const idx = readWalIndex(this.#o.database);
      if (idx !== undefined) return idx;
    }
    return undefined;
  }

  // ---- lineages and snapshots ------------------------------------------------------------------

  /** Whether the pinned database continues `remote` (same frames, or same checksum); sets the state if so. */
  #resume(remote: ObjectHeader & { dir: string }): boolean {
    const pin = this.#pin as Database.Database;
    const pageSize = Number(pin.pragma('page_size', { simple: true }));
    if (pageSize !== remote.pageSize) {
      this.#doubt = `the page size changed (${remote.pageSize} -> ${pageSize})`;
      return false;
    }
    const idx = this.#index();
    if (idx === undefined) return false;
    const [salt1, salt2, checkpointSeq, frame, checksum1, checksum2] = remote.wal;
    const last: WalPosition = { salt1, salt2, checkpointSeq, frame, checksum1, checksum2 };
    const all = this.#walTransactions() ?? [];
    // Same generation, its frames up to the last shipped one unchanged, none of the later ones copied
    // into the file yet: the database as of `last` is the file plus the frames up to it.
    const sameGen =
      idx.salt1 === last.salt1 &&
      idx.salt2 === last.salt2 &&
      idx.nBackfill <= last.frame &&
      (last.frame === 0 || all.some((t) => samePosition(t.end, last)));
    let upTo: WalTransaction[];
    let pages: number;
    let pos: WalPosition | undefined;
    if (sameGen) {
      upTo = all.filter((t) => t.end.frame <= last.frame);
      pages = upTo.at(-1)?.commitPages ?? filePageCount(this.#o.database, pageSize);
      pos = last;
    } else if (idx.nBackfill === 0 && this.#fileIs(remote.postChecksum, pageSize)) {
      // The log restarted after the last shipped transaction and nothing of the new generation is
      // in the file yet (a crash after a restart): the file is the last shipped state, ship the
      // whole generation on top of it.
      upTo = [];
      pages = filePageCount(this.#o.database, pageSize);
      pos = this.#genStart();
    } else {
      upTo = this.#pinMark0 ? [] : all;
      pages = Number(pin.pragma('page_count', { simple: true }));
      pos = all.at(-1)?.end ?? this.#emptyEnd();
    }
    const sums = this.#checksumAt(pageSize, pages, upTo);
    if (sums.total !== remote.postChecksum) {
      this.#doubt = `the database's checksum ${formatChecksum(sums.total)} is not the last shipped one ${formatChecksum(remote.postChecksum)}`;
      return false;
    }
    const { lineage } = parseLineageDir(remote.dir);
    this.#lineage = { id: lineage, dir: remote.dir };
    this.#pageSize = pageSize;
    this.#sums = sums;
    this.#nextTxid = remote.maxTxid + 1n;
    this.#uploadedTxid = remote.maxTxid;
    this.#pos = pos;
    this.#snapshotAt = this.#now();
    this.#movesLeft = this.#pinMark0 ? 1 : 0;
    this.#o.log.info(
      {
        event: 'continuous_resume',
        lineage,
        txid: String(remote.maxTxid),
        sameGeneration: sameGen,
        from: pos?.frame ?? 0,
      },
      'continuous backup resumes its lineage',
    );
    return true;
  }

  /** Every committed transaction of the WAL's current generation (undefined when it has none). */
  #walTransactions(): WalTransaction[] | undefined {
    let fd: number;
    try {
      fd = fs.openSync(`${this.#o.database}-wal`, 'r');
    } catch {
      return undefined;
    }
    try {
      const scan = scanWal(fd, undefined, Number.POSITIVE_INFINITY);
      return scan.kind === 'continues' ? [...scan.transactions] : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The rolling checksum of the file overlaid with `txns`' pages, over `pages` pages. */
  #checksumAt(pageSize: number, pages: number, txns: readonly WalTransaction[]): DatabaseChecksum {
    const overlay = overlayOf(txns);
    const sums = new DatabaseChecksum(pages);
    for (const [pgno, page] of pinnedPages(this.#o.database, pageSize, pages, overlay)) sums.set(pgno, page);
    sums.resize(pages);
    return sums;
  }

  /** Starts a new lineage: a snapshot of the pinned database at txid 1. */
  async #newLineage(why: string): Promise<void> {
    const startMs = this.#now();
    const id = randomBytes(16).toString('hex');
    for (const file of this.#staged) fs.rmSync(file, { force: true }); // of the old lineage, which ends here
    this.#staged = [];
    if (this.#pendingSnapshot !== undefined) fs.rmSync(this.#pendingSnapshot.file, { force: true });
    this.#pendingSnapshot = undefined;
    this.#o.log.info(
      { event: 'continuous_lineage', lineage: id, reason: why },
      `continuous backup: new lineage (${why})`,
    );
    const old = this.#lineage;
    if (old !== undefined) this.#pastLineages.add(old.id);
    // Pinned anywhere: the snapshot holds everything up to the pin, its position is the pin's end.
    this.#lineage = undefined;
    if (!this.#repin())
      throw new BackupError('ATS_BACKUP_BUSY', 'snapshot', this.#o.database, 'could not pin the database');
    this.#lineage = { id, dir: lineageKey(startMs, id) };
    // Every write acknowledged so far committed before the pin above: the snapshot (txid 1) holds it.
    for (const w of this.#waiters) w.txid = 1n;
    this.#nextTxid = 1n;
    this.#uploadedTxid = 0n;
    this.#pos = undefined;
    await this.#snapshot();
  }

  async #periodicSnapshot(): Promise<void> {
    if (this.#pendingSnapshot !== undefined || !this.#repin()) return; // the lineage's first one goes first
    await this.#snapshot();
  }

  /**
   * A snapshot of the pinned database at the staged position, as the next txid: its pages and the
   * checksum come from the one pinned read transaction, so its position cannot be older than its
   * pages (design note, sequence 4).
   */
  async #snapshot(): Promise<void> {
    const pin = this.#pin as Database.Database;
    const lineage = this.#lineage as Lineage;
    this.#snapshotting = true;
    const file = path.join(this.#o.stagingDir, `${String(++this.#stagedCount).padStart(8, '0')}.snap.tmp`);
    try {
      this.#pageSize = Number(pin.pragma('page_size', { simple: true }));
      const pages = Number(pin.pragma('page_count', { simple: true }));
      const all = this.#walTransactions() ?? [];
      const fresh = this.#nextTxid === 1n;
      if (fresh) this.#pos = all.at(-1)?.end ?? this.#emptyEnd();
      // On mark 0 every frame is in the file already (and the file cannot change under the pin).
      const overlay = this.#pinMark0 ? new Map<number, Buffer>() : overlayOf(all);
      const sums = new DatabaseChecksum(pages);
      const txid = fresh ? 1n : this.#nextTxid - 1n;
      const timeMs = this.#now();
      const writer = new ObjectWriter(file, this.#pageSize);
      writer.record({ txid, timeMs, commitPages: pages, pageCount: pages, postChecksum: 0n });
      let n = 0;
      for (const [pgno, page] of pinnedPages(this.#o.database, this.#pageSize, pages, overlay)) {
        sums.set(pgno, page);
        writer.page(pgno, page);
        if (++n % 4096 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      sums.resize(pages);
      if (!fresh && sums.total !== this.#sums.total) {
        // The pinned database is not what the chain says it is at this txid: never upload a chain
        // that would restore something else.
        this.#doubt = `snapshot checksum ${formatChecksum(sums.total)} differs from the chain's ${formatChecksum(this.#sums.total)}`;
        return;
      }
      // The record's post checksum is in the header (the record header was written before the pages).
      writer.finish(this.#header('snapshot', txid, txid, timeMs, timeMs, 0n, this.#pos, pages, sums.total));
      if (fresh) {
        this.#sums = sums;
        this.#nextTxid = 2n;
      }
      const key = snapshotKey(lineage.dir, txid);
      try {
        await this.#o.store.put(key, file);
      } catch (err) {
        if (fresh) {
          // A lineage's segments restore nothing without its first snapshot: keep it, and upload
          // it before them (a crash meanwhile drops it with them: the next start begins anew).
          const pending = path.join(this.#o.stagingDir, 'pending-snapshot.tmp');
          fs.renameSync(file, pending);
          this.#pendingSnapshot = { key, file: pending, txid };
        }
        throw err;
      }
      this.#counts.snapshots++;
      this.#snapshotAt = timeMs;
      this.#snapshotTxid = txid;
      if (txid > this.#uploadedTxid && this.#staged.length === 0) this.#advanceUploaded(txid);
      this.#o.log.info(
        { event: 'continuous_snapshot', key, pages, checksum: formatChecksum(sums.total) },
        'continuous backup: snapshot uploaded',
      );
    } finally {
      fs.rmSync(file, { force: true });
      this.#snapshotting = false;
    }
  }

  /** Whether the database file alone (no WAL) has checksum `sum`. */
  #fileIs(sum: bigint, pageSize: number): boolean {
    return this.#checksumAt(pageSize, filePageCount(this.#o.database, pageSize), []).total === sum;
  }

  /** The start of the WAL's current generation, or undefined without a valid header. */
  #genStart(): WalPosition | undefined {
    let fd: number;
    try {
      fd = fs.openSync(`${this.#o.database}-wal`, 'r');
    } catch {
      return undefined;
    }
    try {
      const scan = scanWal(fd, undefined, 0);
      return scan.kind === 'empty' ? undefined : startOf(scan.header);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Position of an empty WAL generation (header only, or no file). */
  #emptyEnd(): WalPosition | undefined {
    let fd: number;
    try {
      fd = fs.openSync(`${this.#o.database}-wal`, 'r');
    } catch {
      return undefined;
    }
    try {
      const scan = scanWal(fd, undefined, 0);
      return scan.kind === 'continues' ? scan.end : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  #header(
    kind: 'snapshot' | 'segment',
    minTxid: bigint,
    maxTxid: bigint,
    minTimeMs: number,
    maxTimeMs: number,
    pre: bigint,
    end: WalPosition | undefined,
    commitPages: number,
    post = this.#sums.total,
  ): ObjectHeader {
    const e = end ?? { salt1: 0, salt2: 0, checkpointSeq: 0, frame: 0, checksum1: 0, checksum2: 0 };
    return {
      kind,
      pageSize: this.#pageSize,
      lineage: (this.#lineage as Lineage).id,
      minTxid,
      maxTxid,
      minTimeMs,
      maxTimeMs,
      commitPages,
      preChecksum: pre,
      postChecksum: post,
      wal: [e.salt1, e.salt2, e.checkpointSeq, e.frame, e.checksum1, e.checksum2],
    };
  }

  // ---- uploads ---------------------------------------------------------------------------------

  async #uploadStaged(): Promise<void> {
    const snap = this.#pendingSnapshot;
    if (snap !== undefined) {
      await this.#o.store.put(snap.key, snap.file);
      this.#pendingSnapshot = undefined;
      fs.rmSync(snap.file, { force: true });
      this.#counts.snapshots++;
      this.#o.log.info(
        { event: 'continuous_snapshot', key: snap.key },
        'continuous backup: snapshot uploaded',
      );
      if (snap.txid > this.#uploadedTxid) this.#advanceUploaded(snap.txid); // a first snapshot: txid 1
      if (this.#staged.length === 0) return;
    }
    const files = [...this.#staged];
    const lineage = this.#lineage as Lineage;
    const merged = files.length === 1 ? (files[0] as string) : this.#merge(files);
    try {
      const h = checkObject(merged);
      await this.#o.store.put(segmentKey(lineage.dir, h.minTxid, h.maxTxid), merged);
      faultPoint('wal-uploaded');
      this.#counts.segments++;
      this.#staged = this.#staged.filter((f) => !files.includes(f));
      for (const f of files) fs.rmSync(f, { force: true });
      this.#advanceUploaded(h.maxTxid);
    } finally {
      if (files.length > 1) fs.rmSync(merged, { force: true });
    }
  }

  /** One object holding the records of several contiguous staged objects. */
  #merge(files: readonly string[]): string {
    const out = path.join(this.#o.stagingDir, 'merged.tmp');
    fs.rmSync(out, { force: true });
    const writer = new ObjectWriter(out, this.#pageSize);
    let first: ObjectHeader | undefined;
    let last: ObjectHeader | undefined;
    try {
      for (const f of files) {
        const h = readObject(
          f,
          (r) => {
            writer.record(r);
            return true;
          },
          (pgno, page) => writer.page(pgno, page),
        );
        first ??= h;
        last = h;
      }
      const a = first as ObjectHeader;
      const b = last as ObjectHeader;
      writer.finish({ ...b, minTxid: a.minTxid, minTimeMs: a.minTimeMs, preChecksum: a.preChecksum });
      return out;
    } catch (err) {
      writer.abandon();
      fs.rmSync(out, { force: true });
      throw err;
    }
  }

  #advanceUploaded(txid: bigint): void {
    this.#uploadedTxid = txid;
    const uploaded: UploadWait = {
      kind: 'uploaded',
      uploaded: { lineage: (this.#lineage as Lineage).id, txid },
    };
    for (const w of [...this.#waiters]) if (w.txid <= txid) w.settle(uploaded);
  }

  /** Objects an earlier run sealed but did not upload: uploaded now (or dropped if already there). */
  async #uploadLeftovers(): Promise<void> {
    const files = fs
      .readdirSync(this.#o.stagingDir)
      .filter((f) => f.endsWith('.stage'))
      .sort();
    for (const f of fs.readdirSync(this.#o.stagingDir))
      if (f.endsWith('.tmp')) fs.rmSync(path.join(this.#o.stagingDir, f));
    for (const f of files) {
      const file = path.join(this.#o.stagingDir, f);
      let h: ObjectHeader;
      try {
        h = checkObject(file);
      } catch (err) {
        this.#o.log.warn(
          { event: 'stage_bad', file, reason: reasonOf(err) },
          'dropping a damaged staged object',
        );
        fs.rmSync(file, { force: true });
        continue;
      }
      const dir = (await this.#o.store.list('lineages/'))
        .map(parseKey)
        .find((k) => k?.lineageDir.includes(h.lineage));
      if (dir !== undefined) await this.#o.store.put(segmentKey(dir.lineageDir, h.minTxid, h.maxTxid), file);
      fs.rmSync(file, { force: true });
    }
  }

  /** The newest object of the newest lineage, with its header. */
  async #newestRemote(): Promise<(ObjectHeader & { dir: string }) | undefined> {
    const keys = (await this.#o.store.list('lineages/')).map((k) => ({ k, p: parseKey(k) }));
    const lineages = [
      ...new Set(keys.map((x) => x.p?.lineageDir).filter((d): d is string => d !== undefined)),
    ].sort();
    const dir = lineages.at(-1);
    if (dir === undefined) return undefined;
    let best: { k: string; max: bigint } | undefined;
    for (const { k, p } of keys) {
      if (p === undefined || p.lineageDir !== dir) continue;
      const max = p.kind === 'snapshot' ? p.txid : p.maxTxid;
      if (best === undefined || max > best.max || (max === best.max && p.kind === 'segment'))
        best = { k, max };
    }
    if (best === undefined) return undefined;
    return { ...decodeHeader(await this.#o.store.head(best.k, HEADER_BYTES), best.k), dir };
  }
}

function overlayOf(txns: readonly WalTransaction[]): Map<number, Buffer> {
  const overlay = new Map<number, Buffer>();
  let pages = 0;
  for (const t of txns) {
    for (const [pgno, page] of t.pages) overlay.set(pgno, page);
    pages = t.commitPages;
  }
  if (txns.length > 0) for (const p of overlay.keys()) if (p > pages) overlay.delete(p);
  return overlay;
}

/** Pages of a database file as its header says (when valid), else from its size. */
function filePageCount(database: string, pageSize: number): number {
  const fd = databaseFd(database);
  const head = Buffer.alloc(100);
  const n = fs.readSync(fd, head, 0, 100, 0);
  if (n === 100 && head.readUInt32BE(24) === head.readUInt32BE(92) && head.readUInt32BE(28) > 0)
    return head.readUInt32BE(28);
  return Math.floor(fs.fstatSync(fd).size / pageSize);
}

function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
