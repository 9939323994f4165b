import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import {
  type BackupEngine,
  type BackupResult,
  backupBase,
  listGenerations,
  runBackup,
  type VerifyMode,
} from '../backup/index.js';
import { AtsError } from '../errors/index.js';
import type { Logger } from './logger.js';
import type { PulseJob } from './ticker.js';

/** Settings of the periodic backup. */
export interface BackupJobOptions {
  readonly database: string;
  readonly backupDir: string;
  /** Seconds between backups; 0: never by the ticker (a backup can still be asked for). */
  readonly intervalSeconds: number;
  readonly keep: number;
  readonly verify: VerifyMode;
  readonly timeoutSeconds: number;
  /** Which engine copies; default 'auto'. */
  readonly engine?: BackupEngine;
  /** First retry after a failure; doubles each time, capped at the interval. Default 10 s. */
  readonly retryBaseSeconds?: number;
  /**
   * Awaited before each backup takes its snapshot (a shutdown cuts it short): `ats serve` waits for
   * the checkpoint job's next WAL restart here (CheckpointJob.shortLog), so that the snapshot pins a
   * short log.
   */
  readonly beforeSnapshot?: (() => Promise<void>) | undefined;
}

/** A failed backup, as recorded. */
export interface BackupFailure {
  readonly at: string;
  readonly code: string;
  readonly reason: string;
}

/** One generation on disk. */
export interface BackupFile {
  readonly generation: number;
  readonly file: string;
  readonly bytes: number;
  readonly modifiedAt: string;
  /** When the backup was taken, as the catalogue recorded it; undefined for a backup without a record. */
  readonly createdAt: string | undefined;
  /** The check this process made before rotating it in; undefined when made before this process started. */
  readonly verify: BackupResult['verify'] | undefined;
}

/** Events: 'start' (), 'success' (BackupResult), 'failure' (BackupFailure). */
export interface BackupJobEvents {
  start: [];
  success: [BackupResult];
  failure: [BackupFailure];
}

/**
 * The periodic hot backup. Each tick checks whether one is due and starts it in the background;
 * a guard keeps two from overlapping. The due time comes from the recorded creation time of the
 * newest backup (its mtime when it has no record), so a restart does not rotate at once; it is
 * clamped to at most one interval from now (a backup dated in the future, or a clock stepped back,
 * must not stop backups) and kept on the monotonic clock from then on. A failure is retried after a growing backoff; a backup past
 * its deadline is cancelled.
 */
export class BackupJob extends EventEmitter<BackupJobEvents> implements PulseJob {
  readonly name = 'backup';
  readonly options: BackupJobOptions;
  readonly #target: string;
  readonly #log: Logger;
  readonly #shutdown = new AbortController();
  readonly #verified = new Map<number, BackupResult['verify']>(); // by inode: rotation keeps inodes
  #running: Promise<void> | undefined;
  #copying = false;
  /** Due time on the monotonic clock (performance.now()), immune to wall-clock steps. */
  #nextDueMono = 0;
  /** The same due time on the wall clock, whole ms, as `nextDueAt` reports it. */
  #nextDueWall = 0;
  #failuresInRow = 0;
  #last: BackupResult | undefined;
  #lastFailure: BackupFailure | undefined;

  constructor(options: BackupJobOptions, log: Logger, now = Date.now()) {
    super();
    this.options = options;
    this.#log = log;
    this.#target = backupBase(options.backupDir, options.database);
    const newest = listGenerations(this.#target)[0];
    const intervalMs = options.intervalSeconds * 1000;
    let dueAt = newest ? Date.parse(newest.record?.createdAt ?? newest.modifiedAt) + intervalMs : now;
    if (dueAt > now + intervalMs) {
      log.warn(
        {
          event: 'backup_due_clamped',
          file: newest?.file,
          takenAt: newest?.record?.createdAt ?? newest?.modifiedAt,
          dueAt: new Date(dueAt).toISOString(),
          clampedTo: new Date(now + intervalMs).toISOString(),
        },
        'the newest backup is dated in the future (clock stepped back?): next backup due one interval from now',
      );
      dueAt = now + intervalMs;
    }
    this.#dueIn(dueAt - now);
  }

  /**
   * Sets the next due time `delayMs` from now on both clocks: the monotonic one, which a clock
   * stepped back cannot delay, and the wall clock, as `nextDueAt` reports it (rounded up), so a tick
   * at exactly the reported time is due whatever the two clocks read in between.
   */
  #dueIn(delayMs: number): void {
    this.#nextDueMono = performance.now() + delayMs;
    this.#nextDueWall = Math.ceil(Date.now() + delayMs);
  }

  get intervalSeconds(): number {
    return this.options.intervalSeconds;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Whether the running backup holds its snapshot of the database now: from the copy's first
   * progress (the engines report it once the snapshot is pinned) until the copy is complete (then
   * it syncs, verifies and rotates a file of its own, which pins nothing).
   */
  get holdsSnapshot(): boolean {
    return this.#running !== undefined && this.#copying;
  }

  /** When the ticker will start the next backup (ms since epoch); undefined when periodic backup is off. */
  get nextDueAt(): number | undefined {
    return this.options.intervalSeconds > 0 ? this.#nextDueWall : undefined;
  }

  get last(): BackupResult | undefined {
    return this.#last;
  }

  get lastFailure(): BackupFailure | undefined {
    return this.#lastFailure;
  }

  tick(now: number): void {
    // `now` is wall-clock (the ticker's Date.now(), or later in tests). Due once it reaches the
    // reported due time, or once the monotonic due time has passed (a clock stepped back does not
    // delay a backup; one stepped forward brings it forward). Comparing one instant read through
    // both clocks instead missed a tick at exactly nextDueAt now and then (Date.now() counts whole
    // ms, and a thread can be descheduled between two clock reads).
    if (this.options.intervalSeconds === 0 || this.running) return;
    if (now < this.#nextDueWall && performance.now() < this.#nextDueMono) return;
    this.start();
  }

  /** Starts a backup now unless one is running; returns whether it started. */
  start(): boolean {
    if (this.running || this.#shutdown.signal.aborted) return false;
    this.#running = this.#run().finally(() => (this.#running = undefined));
    return true;
  }

  /** The generations on disk, newest first. */
  files(): BackupFile[] {
    return listGenerations(this.#target).map((g) => ({
      generation: g.generation,
      file: g.file,
      bytes: g.bytes,
      modifiedAt: g.modifiedAt,
      createdAt: g.record?.createdAt,
      verify: this.#verified.get(fs.statSync(g.file, { throwIfNoEntry: false })?.ino ?? -1),
    }));
  }

  /** Cancels a running backup (its temporary file is removed) and waits for it to end. */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await this.#running;
  }

  async #beforeSnapshot(): Promise<void> {
    const wait = this.options.beforeSnapshot;
    const shutdown = this.#shutdown.signal;
    if (wait === undefined || shutdown.aborted) return;
    let onAbort = (): void => {};
    const aborted = new Promise<void>((resolve) => {
      onAbort = resolve;
      shutdown.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([wait(), aborted]);
    } finally {
      shutdown.removeEventListener('abort', onAbort);
    }
  }

  async #run(): Promise<void> {
    const { database, keep, verify, timeoutSeconds, intervalSeconds, engine } = this.options;
    this.emit('start');
    this.#log.info({ event: 'backup_start', database, target: this.#target }, 'backup started');
    this.#copying = false;
    try {
      await this.#beforeSnapshot();
      const result = await runBackup({
        source: database,
        target: this.#target,
        keep,
        verify,
        engine,
        signal: AbortSignal.any([this.#shutdown.signal, AbortSignal.timeout(timeoutSeconds * 1000)]),
        onProgress: (p) => {
          this.#copying = p.phase === 'copy';
        },
      });
      this.#last = result;
      this.#failuresInRow = 0;
      this.#dueIn(intervalSeconds * 1000);
      this.#verified.set(fs.statSync(result.file).ino, result.verify);
      for (const warning of result.warnings) this.#log.warn({ event: 'backup_warning', database }, warning);
      for (const r of result.removed)
        this.#log.info(
          {
            event: 'backup_removed',
            database,
            generation: r.name,
            file: r.file,
            takenAt: r.createdAt,
            why: r.why,
          },
          `removed ${r.name} (${r.why === 'over-keep' ? 'past backup_keep' : 'the oldest generation'})`,
        );
      this.#log.info(
        {
          event: 'backup_finish',
          database,
          file: result.file,
          durationMs: result.durationMs,
          engine: result.engine,
          fallbackReason: result.fallbackReason,
          copyMs: result.copyMs,
          holdMs: result.holdMs,
          bytes: result.bytes,
          pages: result.pages,
          verify: result.verify.mode,
          verifyMs: result.verify.ms,
          busyRetries: result.busyRetries,
        },
        'backup finished',
      );
      this.emit('success', result);
    } catch (err) {
      const failure = {
        at: new Date().toISOString(),
        // Anything else (an fs call after the copy, a 'success' listener that throws) is still a
        // failed backup, with a code from the table rather than none.
        code: err instanceof AtsError ? err.code : 'ATS_BACKUP_UNEXPECTED',
        reason: err instanceof Error ? err.message : String(err),
      };
      this.#lastFailure = failure;
      this.#failuresInRow++;
      const retryMs = this.#retryDelayMs();
      this.#dueIn(retryMs);
      this.#log.error(
        { event: 'backup_fail', database, code: failure.code, reason: failure.reason, retryInMs: retryMs },
        'backup failed',
      );
      this.emit('failure', failure);
    }
  }

  #retryDelayMs(): number {
    const base = (this.options.retryBaseSeconds ?? 10) * 1000;
    const cap = this.options.intervalSeconds > 0 ? this.options.intervalSeconds * 1000 : Infinity;
    return Math.min(base * 2 ** (this.#failuresInRow - 1), cap);
  }
}
