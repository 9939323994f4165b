import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import {
  CheckpointFailure,
  type CheckpointMode,
  type CheckpointOutcome,
  CheckpointRunner,
} from './checkpoint-runner.js';
import type { Logger } from './logger.js';
import type { PulseJob } from './ticker.js';
import {
  logBytes,
  nextCheckpoint,
  RESTART_TAIL_FRAMES,
  restartAt,
  type WalPolicyOptions,
} from './wal-policy.js';

/** What the job needs of the store's write path, declared here (the store's `writes` satisfies it). */
export interface WriteControl {
  readonly refusal: string | undefined;
  /** Whether a hold is in force now (false once its time is up, even while its step still runs). */
  readonly holding: boolean;
  hold<T>(maxMs: number, step: () => Promise<T>): Promise<T>;
  refuse(reason: string, kind?: 'wal' | 'disk'): void;
  resume(): void;
  /** A check the write path runs before every write. */
  setAdmission?(check: (() => void) | undefined): void;
}

/** A step one checkpoint is about to take, for `beforeCheckpoint`. */
export interface CheckpointStep {
  readonly mode: CheckpointMode;
  readonly walBytes: number;
}

/** Settings of the checkpoint job. */
export interface CheckpointJobOptions extends WalPolicyOptions {
  readonly database: string;
  /** The store's write gate; without it the job only runs PASSIVE passes and never refuses writes. */
  readonly writes?: WriteControl | undefined;
  /** Who holds an old snapshot now, if we know (a running backup), for the policy and the log. */
  readonly pinnedBy?: (() => string | undefined) | undefined;
  /**
   * Runs before every checkpoint step, awaited: the seam for a WAL shipper, which must see every
   * frame before a step can let the log restart over it ("seal, ship, then checkpoint"). It
   * returns false to skip the step (the shipper ran it itself, or it must not run now).
   */
  readonly beforeCheckpoint?:
    | ((step: CheckpointStep) => Promise<boolean | undefined> | boolean | undefined)
    | undefined;
  /** Pause between looks at the WAL (default 20 ms): the cap is checked this often. */
  readonly pollMs?: number | undefined;
  /** Least time between passes while the log is under half the journal_size_limit (default 250 ms). */
  readonly idlePassMs?: number | undefined;
  /** Deadline of the last checkpoint `stop()` runs; 0 or unset: none. */
  readonly finalCheckpointMs?: number | undefined;
}

/** Counts of checkpoint steps by mode and result. */
export type CheckpointCounts = Record<CheckpointMode, { done: number; busy: number; failed: number }>;

/** The job's state, for /metrics and /healthz. */
export interface CheckpointStatus {
  readonly walBytes: number;
  readonly walPeakBytes: number;
  readonly maxWalBytes: number;
  /** Frames of the log not yet in the database at the last step (-1: none yet). */
  readonly framesBehind: number;
  readonly walFrames: number;
  readonly counts: CheckpointCounts;
  /** Times the log started again from its beginning. */
  readonly restarts: number;
  /** Seconds since the last restart (or since the job started, when none). */
  readonly secondsSinceRestart: number;
  /** Why writes are refused now, or undefined. */
  readonly writesRefused: string | undefined;
  readonly worker: 'ok' | 'restarting' | 'failed';
  readonly workerFailures: number;
  readonly lastError: string | undefined;
}

/**
 * Events: 'step' (mode, result) after every checkpoint step; 'hold' (ms) after every time the job
 * held new writes (a restart or truncate step), with how long they were held.
 */
export interface CheckpointJobEvents {
  step: [CheckpointMode, 'done' | 'busy' | 'failed'];
  hold: [number];
}

/**
 * Writes wait at most this long on the gate for a restart step; past it they meet the step's write
 * lock as ATS_STORE_BUSY, and the gate retries them as soon as the step ends.
 */
export const HOLD_MS = 50;
// A worker that died this many times in a row is reported failed (it is still retried, with backoff).
const FAILED_AFTER = 3;
const POLL_MS = 20;
const IDLE_PASS_MS = 250;
// Writes pause when the disk has less than this free, whatever the WAL's size.
const DISK_FLOOR_BYTES = 2 << 20;

/**
 * WAL checkpoints off the request path, and the WAL's cap. The store's connection never checkpoints
 * on commit (wal_autocheckpoint=0); this job runs its own loop (a pass every 250 ms while the log is
 * small, back to back while it is past half the limit and gaining) of steps chosen by `nextCheckpoint`: PASSIVE passes in a worker thread copy the bulk,
 * and once only a tail is left the worker RESTARTs the log while the store's write gate holds new
 * writes for a few ms, so the log starts again and the file is cut back to journal_size_limit.
 * Past `maxWalBytes` writes are refused (ATS_STORE_WAL_CAP) until the WAL is back under it.
 */
export class CheckpointJob extends EventEmitter<CheckpointJobEvents> implements PulseJob {
  readonly name = 'checkpoint';
  readonly #options: CheckpointJobOptions;
  readonly #wal: string;
  readonly #log: Logger;
  readonly #runner: CheckpointRunner;
  readonly #counts: CheckpointCounts = {
    PASSIVE: { done: 0, busy: 0, failed: 0 },
    RESTART: { done: 0, busy: 0, failed: 0 },
    TRUNCATE: { done: 0, busy: 0, failed: 0 },
  };
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #stopping = false;
  #walCopied = false;
  #sprinting = false;
  #stalledPasses = 0;
  #missedTails = 0;
  #lastPassAt = -Infinity;
  #last: CheckpointOutcome | undefined;
  #previousBehind: number | undefined;
  #walBytes = 0;
  #walPeakBytes = 0;
  #walMtimeMs = -1;
  #restarts = 0;
  #restartedAt = performance.now();
  #blockedRestartAt = -Infinity;
  #refusedAt = 0;
  #refusedFor: 'wal' | 'disk' | undefined;
  #lastError: string | undefined;
  #loggedError: string | undefined;
  #loggedPin: string | undefined;
  #shortLogWaiters: (() => void)[] = [];
  #pinnedBefore: string | undefined;

  constructor(options: CheckpointJobOptions, log: Logger) {
    super();
    this.#options = options;
    this.#wal = `${options.database}-wal`;
    this.#log = log;
    this.#runner = new CheckpointRunner(options.database);
    // The cap is checked at every write too (one stat), not only at each poll: under a loaded
    // machine's late timers a polled cap alone was overshot by a third.
    options.writes?.setAdmission?.(() => {
      if (this.#refusedFor !== undefined) return;
      this.#walBytes = this.#size();
      if (this.#walBytes > this.#options.maxWalBytes) this.#applyCap();
    });
  }

  /** The last checkpoint's outcome. */
  get last(): CheckpointOutcome | undefined {
    return this.#last;
  }

  status(): CheckpointStatus {
    const failures = this.#runner.failuresInRow;
    return {
      walBytes: this.#walBytes,
      walPeakBytes: this.#walPeakBytes,
      maxWalBytes: this.#options.maxWalBytes,
      framesBehind: this.#last ? this.#last.walFrames - this.#last.checkpointedFrames : -1,
      walFrames: this.#last?.walFrames ?? -1,
      counts: this.#counts,
      restarts: this.#restarts,
      secondsSinceRestart: (performance.now() - this.#restartedAt) / 1000,
      writesRefused: this.#options.writes?.refusal,
      worker: failures === 0 ? 'ok' : failures < FAILED_AFTER ? 'restarting' : 'failed',
      workerFailures: failures,
      lastError: this.#lastError,
    };
  }

  /**
   * Resolves once the log is short: at once when it is under the restart length (or nothing is known
   * of it yet), else when the next restart step has gone, or after `maxMs` (a reader outside the
   * service can keep it from coming), or at stop(). A backup waits for this before it takes its
   * snapshot: the snapshot pins the log, which then grows from near nothing rather than from
   * wherever it was, and reaches the cap (writes refused) that much later.
   */
  shortLog(maxMs: number): Promise<void> {
    const last = this.#last;
    if (this.#stopping || last === undefined || last.walFrames < 0) return Promise.resolve();
    const onRestart = last.mode !== 'PASSIVE' && !last.busy;
    if (onRestart || logBytes(last) < restartAt(this.#options)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, maxMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#shortLogWaiters.push(done);
    });
  }

  #logRestarted(): void {
    const waiters = this.#shortLogWaiters.splice(0);
    for (const done of waiters) done();
  }

  /** The ticker's call: starts the job's own loop the first time (checkpoints need a faster pace). */
  tick(): void {
    if (this.#loop === undefined && !this.#stopping) this.#loop = this.#run();
  }

  /** After `stop()`: whether the final checkpoint left the WAL fully copied into the database. */
  get walCopied(): boolean {
    return this.#walCopied;
  }

  /**
   * Ends the loop; then, when `finalCheckpointMs` is set, runs a last PASSIVE pass with that
   * deadline (see `walCopied`); then ends the worker. Always returns.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#logRestarted();
    this.#options.writes?.setAdmission?.(undefined);
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    const deadlineMs = this.#options.finalCheckpointMs ?? 0;
    if (deadlineMs > 0 && this.#size() > 0 && this.#runner.ready) {
      let timer: NodeJS.Timeout | undefined;
      const final = this.#runner.run('PASSIVE', 'final').then(
        (o) => {
          this.#last = o;
          return !o.busy && o.checkpointedFrames === o.walFrames;
        },
        (err: unknown) => {
          this.#log.error(
            { event: 'checkpoint_fail', mode: 'PASSIVE', reason: String(err) },
            'final checkpoint failed',
          );
          return false;
        },
      );
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      });
      this.#walCopied = await Promise.race([final, late]);
      clearTimeout(timer);
    } else {
      const last = this.#last;
      this.#walCopied =
        this.#size() === 0 ||
        (last !== undefined && !last.busy && last.checkpointedFrames === last.walFrames);
    }
    await this.#runner.stop();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let delay = this.#options.pollMs ?? POLL_MS;
      try {
        delay = await this.#step(delay);
      } catch (err) {
        this.#log.error({ event: 'checkpoint_fail', reason: String(err) }, 'checkpoint step failed');
      }
      if (this.#stopping) break;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
    }
  }

  #size(): number {
    return fs.statSync(this.#wal, { throwIfNoEntry: false })?.size ?? 0;
  }

  /** One step; returns the pause before the next. */
  async #step(pollMs: number): Promise<number> {
    const stat = fs.statSync(this.#wal, { throwIfNoEntry: false });
    this.#walBytes = stat?.size ?? 0;
    this.#walPeakBytes = Math.max(this.#walPeakBytes, this.#walBytes);
    this.#applyCap();
    if (stat === undefined || stat.size === 0 || !this.#runner.ready) return pollMs;
    const last = this.#last;
    const caughtUp = last !== undefined && !last.busy && last.checkpointedFrames === last.walFrames;
    // Nothing written since a pass that copied everything: nothing to do.
    if (caughtUp && stat.mtimeMs === this.#walMtimeMs && this.#options.writes?.refusal === undefined)
      return pollMs;
    // Below half the journal_size_limit a pass every 250 ms is plenty, and each pass that copies
    // anything costs two fsyncs; past it, passes run back to back until the restart step can go.
    const now = performance.now();
    if (!this.#sprinting && now - this.#lastPassAt < (this.#options.idlePassMs ?? IDLE_PASS_MS))
      return pollMs;
    this.#lastPassAt = now;
    this.#walMtimeMs = stat.mtimeMs;
    const pinnedBy = this.#options.pinnedBy?.();
    // The reader we knew of has let go (a backup's copy is done): a restart step that it blocked may
    // go again at once, without the usual pause.
    if (this.#pinnedBefore !== undefined && pinnedBy === undefined) this.#blockedRestartAt = -Infinity;
    this.#pinnedBefore = pinnedBy;
    const writes = this.#options.writes;
    const mode = nextCheckpoint(this.#options, {
      walBytes: stat.size,
      last: writes === undefined ? undefined : last,
      previousBehind: this.#previousBehind,
      refusing: writes?.refusal !== undefined,
      pinned: pinnedBy !== undefined,
      sinceBlockedRestartMs: performance.now() - this.#blockedRestartAt,
      missedTails: this.#missedTails,
    });
    if ((await this.#options.beforeCheckpoint?.({ mode, walBytes: stat.size })) === false) {
      // The hook ran a restart step itself (the shipper's sealed restart), or the step must wait. After
      // a restart a pass comes first, to learn the log's new length; without this note the policy
      // saw the old length again and ran the shipper's restart at every step.
      if (mode !== 'PASSIVE' && last !== undefined) {
        this.#last = { ...last, mode };
        this.#logRestarted();
      }
      return pollMs;
    }
    let outcome: CheckpointOutcome;
    try {
      if (mode === 'PASSIVE' || writes === undefined) outcome = await this.#runner.run(mode);
      else outcome = await this.#held(writes, mode);
    } catch (err) {
      this.#failed(mode, err);
      return pollMs;
    }
    this.#previousBehind = last === undefined ? undefined : last.walFrames - last.checkpointedFrames;
    this.#done(outcome, pinnedBy);
    const restarted = outcome.mode !== 'PASSIVE' && !outcome.busy;
    this.#sprinting =
      !restarted &&
      (logBytes(outcome) >= restartAt(this.#options) || this.#options.writes?.refusal !== undefined);
    // Straight on only while passes gain ground: a pinned WAL (a backup's snapshot) gives none.
    const gained =
      last === undefined ||
      outcome.walFrames < last.walFrames ||
      outcome.checkpointedFrames > last.checkpointedFrames;
    const behind = outcome.walFrames - outcome.checkpointedFrames;
    this.#stalledPasses = behind > 0 && !gained ? this.#stalledPasses + 1 : 0;
    this.#missedTails = this.#sprinting && behind > RESTART_TAIL_FRAMES ? this.#missedTails + 1 : 0;
    return this.#sprinting && gained && behind > 0 && !outcome.busy ? 0 : pollMs;
  }

  /**
   * A RESTART or TRUNCATE step, run by SQLite in the worker while new writes are held (HOLD_MS): no
   * write is in progress then (they are synchronous), so it gets the write lock at once, copies the
   * tail and makes the next commit start the log again.
   */
  async #held(writes: WriteControl, mode: 'RESTART' | 'TRUNCATE'): Promise<CheckpointOutcome> {
    const started = performance.now();
    try {
      return await writes.hold(HOLD_MS, () => this.#runner.run(mode, 'held'));
    } finally {
      this.emit('hold', performance.now() - started);
    }
  }

  #done(outcome: CheckpointOutcome, pinnedBy: string | undefined): void {
    const previous = this.#last;
    this.#last = outcome;
    this.#lastError = undefined;
    if (this.#loggedError !== undefined) {
      this.#log.info({ event: 'checkpoint_recovered', after: this.#loggedError }, 'checkpoints work again');
      this.#loggedError = undefined;
    }
    this.#counts[outcome.mode][outcome.busy ? 'busy' : 'done']++;
    this.emit('step', outcome.mode, outcome.busy ? 'busy' : 'done');
    // The log started again since the previous step: fewer frames than it had.
    const restartedNow = outcome.mode === 'TRUNCATE' && !outcome.busy;
    if (restartedNow || (previous !== undefined && outcome.walFrames < previous.walFrames)) {
      this.#restarts++;
      this.#restartedAt = performance.now();
    }
    if (outcome.mode !== 'PASSIVE' && !outcome.busy) this.#logRestarted();
    if (outcome.mode !== 'PASSIVE' && outcome.busy) {
      this.#blockedRestartAt = performance.now();
      const who = pinnedBy ?? 'a reader outside this service (an open read transaction) or another writer';
      if (this.#loggedPin !== who) {
        this.#loggedPin = who;
        this.#log.warn(
          { event: 'checkpoint_blocked', mode: outcome.mode, pinnedBy: who, walBytes: this.#walBytes },
          `the WAL cannot restart: ${who} holds an old snapshot`,
        );
      }
    } else if (outcome.mode !== 'PASSIVE') this.#loggedPin = undefined;
  }

  #failed(mode: CheckpointMode, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.#lastError = reason;
    this.#counts[mode].failed++;
    this.emit('step', mode, 'failed');
    if (this.#loggedError === reason) return; // a failure that repeats every 20 ms is logged once
    this.#loggedError = reason;
    const code = err instanceof CheckpointFailure ? err.code : 'EUNKNOWN';
    this.#log.error(
      { event: 'checkpoint_fail', mode, code, reason, workerFailures: this.#runner.failuresInRow },
      'checkpoint failed',
    );
  }

  /**
   * Refuses writes past the cap, or while the WAL is larger than the free space on its disk (the
   * checkpoint needs up to the WAL's size again to copy it into the database: past that a full disk
   * could only be cured by hand), naming the cause; lets them through again once clear of both.
   */
  #applyCap(): void {
    const writes = this.#options.writes;
    if (writes === undefined) return;
    const { maxWalBytes } = this.#options;
    const free = this.#freeBytes();
    const overCap = this.#walBytes > maxWalBytes;
    const diskShort = free !== undefined && (this.#walBytes > free || free < DISK_FLOOR_BYTES);
    const diskClear = free === undefined || (2 * this.#walBytes <= free && free >= 2 * DISK_FLOOR_BYTES);
    if (this.#refusedFor === 'disk' ? diskClear : this.#refusedFor === 'wal' && !overCap) {
      writes.resume();
      const pausedMs = Math.round(performance.now() - this.#refusedAt);
      this.#log.info(
        { event: 'wal_backpressure_end', walBytes: this.#walBytes, freeBytes: free, pausedMs },
        this.#refusedFor === 'disk'
          ? 'writes resumed: the disk has room to checkpoint the WAL again'
          : 'writes resumed: the WAL is back under its cap',
      );
      this.#refusedFor = undefined;
    }
    if (this.#refusedFor !== undefined) return;
    const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
    if (diskShort) {
      const cause = `the disk holding the WAL has ${mib(free ?? 0)} MiB free, less than the WAL (${mib(this.#walBytes)} MiB) needs to be checkpointed`;
      writes.refuse(cause, 'disk');
      this.#refused('disk', cause, free);
    } else if (overCap) {
      const cause = this.#capCause();
      writes.refuse(
        `the WAL is ${mib(this.#walBytes)} MiB, over [Database] max_wal_bytes = ${maxWalBytes}: ${cause}`,
      );
      this.#refused('wal', cause, free);
    }
  }

  #refused(kind: 'wal' | 'disk', cause: string, free: number | undefined): void {
    this.#refusedFor = kind;
    this.#refusedAt = performance.now();
    this.#log.warn(
      {
        event: 'wal_backpressure',
        kind,
        walBytes: this.#walBytes,
        maxWalBytes: this.#options.maxWalBytes,
        freeBytes: free,
        cause,
      },
      kind === 'disk' ? `writes paused (507): ${cause}` : `writes paused: the WAL is over its cap (${cause})`,
    );
  }

  /** Free bytes on the WAL's file system for an unprivileged writer; undefined when unknown. */
  #freeBytes(): number | undefined {
    try {
      const s = fs.statfsSync(path.dirname(this.#wal));
      return s.blocks > 0 ? s.bavail * s.bsize : undefined;
    } catch {
      return undefined; // statfs unsupported here: the cap alone applies
    }
  }

  #capCause(): string {
    const pinnedBy = this.#options.pinnedBy?.();
    if (pinnedBy !== undefined) return `${pinnedBy} holds an old snapshot, so checkpoints cannot catch up`;
    if (this.#lastError !== undefined) return `checkpoints fail: ${this.#lastError}`;
    if (this.#loggedPin !== undefined) return `${this.#loggedPin} holds an old snapshot`;
    if (this.#stalledPasses >= 2)
      return 'a reader outside this service (an open read transaction) holds an old snapshot, so checkpoints cannot catch up';
    return 'checkpoints have not caught up with the writes yet';
  }
}
