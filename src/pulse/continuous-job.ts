import fs from 'node:fs';
import Database from 'better-sqlite3';
import { type ObjectStore, type ShipperPosition, WalShipper } from '../backup/index.js';
import type { Logger } from './logger.js';
import type { PulseJob } from './ticker.js';

/** Settings of continuous WAL shipping to one destination. */
export interface ContinuousJobOptions {
  readonly database: string;
  readonly store: ObjectStore;
  /** Local folder for sealed objects not yet uploaded. */
  readonly stagingDir: string;
  readonly syncIntervalMs: number;
  readonly snapshotIntervalMs: number;
  /** Once the WAL file is larger than this after a cycle, restart it (sealed): the bounded WAL. */
  readonly restartWalBytes: number;
}

/**
 * Ships the WAL to a destination every sync interval (`WalShipper`), and is the checkpoint job's
 * seal: `beforeCheckpoint()` is called synchronously right before every checkpoint. Because the
 * shipper's pin keeps the log from restarting, this job also restarts it, inside the seal, once
 * it is over `restartWalBytes`: a RESTART checkpoint on this thread's own connection, between the
 * seal and a new pin, so no commit of this process can land in between.
 */
export class ContinuousJob implements PulseJob {
  readonly name = 'continuous';
  readonly shipper: WalShipper;
  readonly #o: ContinuousJobOptions;
  readonly #log: Logger;
  #conn: Database.Database | undefined;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #stopping = false;
  #lastError: string | undefined;
  #restarts = 0;
  #stopped: Promise<void> | undefined;

  constructor(options: ContinuousJobOptions, log: Logger) {
    this.#o = options;
    this.#log = log;
    this.shipper = new WalShipper({
      database: options.database,
      store: options.store,
      stagingDir: options.stagingDir,
      snapshotIntervalMs: options.snapshotIntervalMs,
      log,
    });
  }

  /** Before the database takes writes: resume or snapshot (see WalShipper.start). */
  async start(): Promise<void> {
    await this.shipper.start();
    this.#conn = new Database(this.#o.database, { fileMustExist: true, timeout: 0 });
  }

  /** Where the shipper is; undefined before start. */
  status(): (ShipperPosition & { lastError: string | undefined; walRestarts: number }) | undefined {
    const p = this.shipper.position;
    return p === undefined ? undefined : { ...p, lastError: this.#lastError, walRestarts: this.#restarts };
  }

  /** The seal before a checkpoint step; false: skip the step. Never throws (a failed seal skips). */
  beforeCheckpoint(): boolean {
    try {
      return this.shipper.seal().proceed;
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  /** After a write's commit, before its reply: stamps the commit's time (see WalShipper.noteCommit). */
  noteCommit(): void {
    try {
      this.shipper.noteCommit();
    } catch (err) {
      this.#failed(err);
    }
  }

  tick(): void {
    if (this.#loop === undefined && !this.#stopping && this.#conn !== undefined) this.#loop = this.#run();
  }

  /** Ends the loop, then a last seal and upload. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    try {
      await this.shipper.stop();
    } catch (err) {
      this.#failed(err);
    }
    this.#conn?.close();
    this.#conn = undefined;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        await this.shipper.sync();
        this.#restartIfLarge();
        if (this.#lastError !== undefined) {
          this.#log.info(
            { event: 'continuous_recovered', after: this.#lastError },
            'WAL shipping works again',
          );
          this.#lastError = undefined;
        }
      } catch (err) {
        this.#failed(err);
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, this.#o.syncIntervalMs);
      });
    }
  }

  #restartIfLarge(): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    const bytes = fs.statSync(`${this.#o.database}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (bytes <= this.#o.restartWalBytes) return;
    const row = this.shipper.sealedRestart(
      () => (conn.pragma('wal_checkpoint(RESTART)', { simple: false }) as { busy: number }[])[0],
    );
    if (row?.busy === 0) this.#restarts++;
  }

  #failed(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (this.#lastError !== reason)
      this.#log.error({ event: 'continuous_fail', reason }, `WAL shipping failed: ${reason}`);
    this.#lastError = reason;
  }
}
