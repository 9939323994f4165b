import { Worker } from 'node:worker_threads';

/** What the checkpoint worker is started with. */
export interface CheckpointWorkerData {
  readonly database: string;
}

/** SQLite's checkpoint modes the WAL policy uses. */
export type CheckpointMode = 'PASSIVE' | 'RESTART' | 'TRUNCATE';

/** What one checkpoint did. */
export interface CheckpointOutcome {
  readonly mode: CheckpointMode;
  /** The checkpoint could not do all its mode asks (a reader or the write lock was in the way). */
  readonly busy: boolean;
  /** Frames in the WAL's log when it ran. */
  readonly walFrames: number;
  /** Of those, frames now copied into the database. */
  readonly checkpointedFrames: number;
  readonly pageSize: number;
  readonly ms: number;
  /**
   * The worker fsynced the WAL itself after this pass: the pass copied nothing new (a reader pins
   * the log) while frames had been added, so SQLite, which syncs the WAL only before copying,
   * synced nothing.
   */
  readonly walSynced?: boolean | undefined;
}

/**
 * Why a checkpoint runs, which names its fault point: `step`, one of the job's loop ('checkpoint');
 * `held`, a restart or truncate step while writes are held ('held-checkpoint', reached
 * after the checkpoint); `final`, the last one, at shutdown ('final-checkpoint').
 */
export type CheckpointKind = 'step' | 'held' | 'final';

/** One request to the worker. */
export interface CheckpointRequest {
  readonly mode: CheckpointMode;
  readonly kind: CheckpointKind;
}

/** The worker's answer to one request. */
export type CheckpointReply =
  | { readonly ok: true; readonly outcome: CheckpointOutcome }
  | { readonly ok: false; readonly code: string; readonly reason: string };

/** A checkpoint that did not run or did not finish: a SQLite error, or the worker died. */
export class CheckpointFailure extends Error {
  override readonly name = 'CheckpointFailure';
  /** SQLite's code (SQLITE_FULL ...), or EWORKER when the worker died. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 30_000;
const TERMINATE_WAIT_MS = 2_000;

/**
 * The checkpoint worker thread, kept alive: one request at a time; a worker that throws or exits
 * settles the request it had (rejects with EWORKER) and is started again on the next request after
 * a backoff (100 ms doubling to 30 s). `stop()` always returns, even when the worker is stuck in a
 * long checkpoint: it waits for it at most 2 s, then leaves it to the process's exit.
 */
export class CheckpointRunner {
  readonly #database: string;
  #worker: Worker | undefined;
  #pending: { resolve: (o: CheckpointOutcome) => void; reject: (e: CheckpointFailure) => void } | undefined;
  #failuresInRow = 0;
  #retryAt = 0;
  #lastError: string | undefined;
  #stopped = false;

  constructor(database: string) {
    this.#database = database;
  }

  /** Worker deaths since the last checkpoint that got an answer. */
  get failuresInRow(): number {
    return this.#failuresInRow;
  }

  /** Why the worker last died. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Whether a request now would be served (false during the backoff after a worker died). */
  get ready(): boolean {
    return !this.#stopped && this.#pending === undefined && performance.now() >= this.#retryAt;
  }

  /** Runs one checkpoint in the worker. Rejects with a CheckpointFailure. */
  run(mode: CheckpointMode, kind: CheckpointKind = 'step'): Promise<CheckpointOutcome> {
    if (this.#stopped) return Promise.reject(new CheckpointFailure('ESTOPPED', 'checkpoint runner stopped'));
    if (this.#pending !== undefined) throw new Error('checkpoint runner: one request at a time');
    const worker = this.#worker ?? this.#spawn();
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      const request: CheckpointRequest = { mode, kind };
      worker.postMessage(request);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#settle(undefined, new CheckpointFailure('ESTOPPED', 'checkpoint runner stopped'));
    if (worker === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      worker.terminate().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, TERMINATE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  #spawn(): Worker {
    const data: CheckpointWorkerData = { database: this.#database };
    const worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: data });
    worker.unref(); // never keeps the process alive by itself
    this.#worker = worker;
    worker.on('message', (reply: CheckpointReply) => {
      if (reply.ok) {
        this.#failuresInRow = 0;
        this.#settle(reply.outcome, undefined);
      } else this.#settle(undefined, new CheckpointFailure(reply.code || 'EDB', reply.reason));
    });
    worker.on('error', (err) => this.#died(worker, `checkpoint worker failed: ${err.message}`, err));
    worker.on('exit', (code) => this.#died(worker, `checkpoint worker exited with code ${code}`));
    return worker;
  }

  #died(worker: Worker, reason: string, cause?: unknown): void {
    if (this.#worker !== worker) return; // already handled ('error' is followed by 'exit'), or stopped
    this.#worker = undefined;
    this.#failuresInRow++;
    this.#lastError = reason;
    this.#retryAt =
      performance.now() + Math.min(FIRST_RETRY_MS * 2 ** (this.#failuresInRow - 1), MAX_RETRY_MS);
    this.#settle(undefined, new CheckpointFailure('EWORKER', reason, { cause }));
  }

  #settle(outcome: CheckpointOutcome | undefined, failure: CheckpointFailure | undefined): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    if (outcome !== undefined) pending.resolve(outcome);
    else if (failure !== undefined) pending.reject(failure);
  }
}
