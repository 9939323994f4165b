import path from 'node:path';
import Database from 'better-sqlite3';
import {
  applyContinuousRetention,
  COMPACTION_DEFAULTS,
  type CompactionPolicy,
  compactSegments,
  type LogPosition,
  type ObjectStore,
  type RetentionPolicy,
  type ShipperPosition,
  WalShipper,
} from '../backup/index.js';
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
  /** Which snapshots (and the segments after them) to keep; applied after each new snapshot. Undefined: keep everything. */
  readonly retention?: RetentionPolicy | undefined;
  /** How segments are merged (default COMPACTION_DEFAULTS); false: never. */
  readonly compaction?: CompactionPolicy | false | undefined;
}

/** A failed retention pass is tried again after this long (a LIST each time: not every sync interval). */
const RETENTION_RETRY_MS = 60_000;

/** How a client's wait for a position to be off-site ended (the server's `ContinuousService` shape). */
export type OffsiteWaitOutcome =
  | { readonly kind: 'offsite'; readonly uploaded: LogPosition }
  | { readonly kind: 'timeout'; readonly lastError: string | undefined }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Ships the WAL to a destination every sync interval (`WalShipper`), and is the checkpoint job's
 * seal: `beforeCheckpoint(mode)` runs right before every checkpoint step.
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
  #retainedAfter = 0;
  #retentionRetryAt: number | undefined;
  #compactedAfter = 0;
  #compactionRetryAt: number | undefined;
  #maintenance: Promise<void> | undefined;

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

  /** Before the database takes writes: resume or snapshot (see WalShipper.start). Idempotent. */
  async start(): Promise<void> {
    if (this.#conn !== undefined) return;
    await this.shipper.start();
    this.#conn = new Database(this.#o.database, { fileMustExist: true, timeout: 0 });
  }

  /** Where the shipper is; undefined before start. */
  status(): (ShipperPosition & { lastError: string | undefined; walRestarts: number }) | undefined {
    const p = this.shipper.position;
    return p === undefined ? undefined : { ...p, lastError: this.#lastError, walRestarts: this.#restarts };
  }

  /**
   * The seal before a checkpoint step (the checkpoint job's beforeCheckpoint); false: skip the
   * step. A PASSIVE step runs after the seal, bounded by the new pin. A step that restarts the log
   * (RESTART, TRUNCATE) is run here instead, on this thread's connection, between the seal and the
   * new pin, so no commit of this process can land between them; then the job's own step is skipped.
   * Never throws (a failed seal skips the step).
   */
  beforeCheckpoint(mode: 'PASSIVE' | 'RESTART' | 'TRUNCATE' = 'PASSIVE'): boolean {
    try {
      if (mode === 'PASSIVE') return this.shipper.seal().proceed;
      const conn = this.#conn;
      // During a snapshot the pin must stay where the snapshot reads: the restart waits for the next step.
      if (conn === undefined || this.shipper.snapshotting) return false;
      const row = this.shipper.sealedRestart(
        () =>
          (conn.pragma(`wal_checkpoint(${mode})`, { simple: false }) as { busy: number; log: number }[])[0],
      );
      if (row?.busy === 0) {
        this.#restarts++;
        this.#log.info(
          { event: 'continuous_wal_restart', mode, restarts: this.#restarts, walFrames: row.log },
          `WAL ${mode} inside the seal`,
        );
      }
      return false;
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  /** Where the WAL is shipped to, for messages. */
  get url(): string {
    return this.#o.store.url;
  }

  /** The position of the newest committed transaction (see WalShipper.commitPosition); undefined before start. */
  commitPosition(): LogPosition | undefined {
    try {
      return this.shipper.commitPosition();
    } catch (err) {
      this.#failed(err);
      return undefined;
    }
  }

  /**
   * Answers once `position` is uploaded, or the timeout passes, or the next sync fails, or the job
   * stops, or `signal` aborts (reported as stopped): never later than the timeout. One timer per
   * waiter; the waiter sits in the shipper's settle list, which uploads settle (no polling).
   */
  waitOffsite(position: LogPosition, timeoutMs: number, signal?: AbortSignal): Promise<OffsiteWaitOutcome> {
    const wait = this.shipper.waitUploaded(position);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      wait.cancel();
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      timedOut = true;
      wait.cancel();
    }, timeoutMs);
    return wait.done
      .then((outcome): OffsiteWaitOutcome => {
        switch (outcome.kind) {
          case 'uploaded':
            return { kind: 'offsite', uploaded: outcome.uploaded };
          case 'cancelled':
            return timedOut && !aborted
              ? { kind: 'timeout', lastError: this.#lastError }
              : { kind: 'stopped' };
          default:
            return outcome;
        }
      })
      .finally(() => {
        clearTimeout(timer);
        timer = undefined;
        signal?.removeEventListener('abort', onAbort);
      });
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
    await this.#maintenance;
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
        this.#maintain();
        if (this.#lastError !== undefined) {
          this.#log.info(
            { event: 'continuous_recovered', after: this.#lastError },
            'WAL shipping works again',
          );
          this.#lastError = undefined;
        }
      } catch (err) {
        this.#failed(err);
        // Whoever waits for an upload hears of the failure now, not at their timeout.
        this.shipper.fail(`${this.#o.store.url}: ${this.#lastError}`);
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, this.#o.syncIntervalMs);
      });
    }
  }

  /**
   * Retention, then compaction, in the background (the next sync does not wait for their LISTs and
   * downloads), one pass at a time.
   */
  #maintain(): void {
    if (this.#maintenance !== undefined) return;
    this.#maintenance = (async () => {
      await this.#retain();
      await this.#compact();
    })().finally(() => {
      this.#maintenance = undefined;
    });
  }

  /** Compaction once enough segments were uploaded since the last pass (none when idle). */
  async #compact(): Promise<void> {
    const policy = this.#o.compaction ?? COMPACTION_DEFAULTS;
    if (policy === false) return;
    const segments = this.shipper.position?.segments ?? 0;
    const due =
      segments - this.#compactedAfter >= policy.minSegments ||
      (this.#compactionRetryAt !== undefined && Date.now() >= this.#compactionRetryAt);
    if (!due) return;
    this.#compactedAfter = segments;
    try {
      const scratch = `${this.#o.stagingDir.replace(/[\\/]+$/, '')}-compact`;
      const out = await compactSegments(this.#o.store, path.resolve(scratch), policy);
      this.#compactionRetryAt = undefined;
      if (out.merged.length > 0 || out.removed.length > 0)
        this.#log.info(
          {
            event: 'continuous_compaction',
            merged: out.merged.length,
            removed: out.removed.length,
            held: out.held.length,
          },
          `continuous backup compaction: ${out.removed.length} segments merged or removed into ${out.merged.length} objects`,
        );
    } catch (err) {
      this.#compactionRetryAt = Date.now() + RETENTION_RETRY_MS;
      this.#log.warn(
        { event: 'continuous_compaction_fail', reason: err instanceof Error ? err.message : String(err) },
        'continuous backup compaction failed; it is tried again later',
      );
    }
  }

  /**
   * Retention after each new snapshot (only then can the window move: no LIST in steady state),
   * and again after a failed pass (its removals are idempotent).
   */
  async #retain(): Promise<void> {
    const policy = this.#o.retention;
    const snapshots = this.shipper.position?.snapshots ?? 0;
    if (policy === undefined) return;
    const due =
      snapshots !== this.#retainedAfter ||
      (this.#retentionRetryAt !== undefined && Date.now() >= this.#retentionRetryAt);
    if (!due) return;
    this.#retainedAfter = snapshots;
    try {
      const out = await applyContinuousRetention(this.#o.store, policy);
      this.#retentionRetryAt = undefined;
      if (out.removed.length > 0 || out.held.length > 0)
        this.#log.info(
          {
            event: 'continuous_retention',
            removed: out.removed.length,
            held: out.held.length,
            oldestKept: out.oldestKept?.key ?? null,
          },
          `continuous backup retention: ${out.removed.length} objects removed, ${out.held.length} held by a restore`,
        );
    } catch (err) {
      this.#retentionRetryAt = Date.now() + RETENTION_RETRY_MS;
      this.#log.warn(
        { event: 'continuous_retention_fail', reason: err instanceof Error ? err.message : String(err) },
        'continuous backup retention failed; it is tried again later',
      );
    }
  }

  #failed(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (this.#lastError !== reason)
      this.#log.error({ event: 'continuous_fail', reason }, `WAL shipping failed: ${reason}`);
    this.#lastError = reason;
  }
}
