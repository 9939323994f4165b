import { StoreError } from './errors.js';

/** How long a write waits for the write lock (an outside writer, a checkpoint) before it is refused. */
export const WRITE_WAIT_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The store's write path in time: every write goes through here, so the event loop never waits on
 * a lock. The connection has busy_timeout 0, so a write that meets another connection's write lock
 * fails at once with ATS_STORE_BUSY; the gate retries it on a timer (1, 2, 4 ... 20 ms) up to `waitMs`, then
 * refuses it with ATS_STORE_BUSY (the server answers 503 + Retry-After). A checkpoint can hold new writes for a
 * few milliseconds (`hold`) while it restarts the WAL from another connection, and the WAL policy can
 * refuse writes outright (`refuse`, backpressure) until it lets them through again (`resume`).
 */
export class WriteGate {
  readonly #file: string;
  readonly #waitMs: number;
  #held: Promise<void> | undefined;
  /** While a held step runs (past its hold too): settles when it ends. */
  #stepRunning: Promise<unknown> | undefined;
  #refusal: string | undefined;
  #refusalCode: 'ATS_STORE_WAL_CAP' | 'ATS_STORE_FULL' = 'ATS_STORE_WAL_CAP';
  #admission: (() => void) | undefined;

  constructor(file: string, waitMs = WRITE_WAIT_MS) {
    this.#file = file;
    this.#waitMs = waitMs;
  }

  /** Why writes are refused now; undefined when they are let through. */
  get refusal(): string | undefined {
    return this.#refusal;
  }

  /** Whether a checkpoint holds writes now. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Throws ATS_STORE_WAL_CAP (or ATS_STORE_FULL, for a disk too full) while writes are refused. */
  checkOpen(operation: string): void {
    this.#admission?.();
    if (this.#refusal !== undefined)
      throw new StoreError(
        this.#refusalCode,
        `${operation} ${this.#file}: writes are paused: ${this.#refusal}`,
      );
  }

  /** Runs the synchronous write `fn` as soon as the gate and the write lock allow, within the wait. */
  async run<T>(operation: string, fn: () => T): Promise<T> {
    const deadline = performance.now() + this.#waitMs;
    for (let attempt = 0; ; attempt++) {
      this.checkOpen(operation);
      while (this.#held !== undefined) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await Promise.race([this.#held, sleep(left)]);
      }
      this.checkOpen(operation);
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof StoreError) || err.code !== 'ATS_STORE_BUSY') throw err;
        const left = deadline - performance.now();
        if (left <= 0)
          throw new StoreError(
            'ATS_STORE_BUSY',
            `${operation} ${this.#file}: another connection held the write lock for ${this.#waitMs} ms; retry later`,
            { cause: err },
          );
        // The lock is most likely a held step's that outlived its hold: go again the moment it ends.
        await Promise.race([sleep(Math.min(2 ** attempt, 20, left)), this.#stepRunning].filter(Boolean));
      }
    }
  }

  /**
   * Holds new writes while `step` runs (it sees no write in progress: writes are synchronous), but
   * never longer than `maxMs`: after that, writes go ahead and meet the step's lock as ATS_STORE_BUSY retries.
   */
  async hold<T>(maxMs: number, step: () => Promise<T>): Promise<T> {
    if (this.#held !== undefined) throw new Error('write gate: a hold is already in progress');
    let release = (): void => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = held;
    const timer = setTimeout(() => {
      if (this.#held === held) this.#held = undefined;
      release();
    }, maxMs);
    const running = step();
    this.#stepRunning = running.catch(() => undefined);
    try {
      return await running;
    } finally {
      this.#stepRunning = undefined;
      clearTimeout(timer);
      if (this.#held === held) this.#held = undefined;
      release();
    }
  }

  /**
   * Refuses every write, saying `reason`, until `resume()`: with ATS_STORE_WAL_CAP (503) for a WAL
   * over its cap, with ATS_STORE_FULL (507) for a disk without room to checkpoint it.
   */
  refuse(reason: string, kind: 'wal' | 'disk' = 'wal'): void {
    this.#refusal = reason;
    this.#refusalCode = kind === 'disk' ? 'ATS_STORE_FULL' : 'ATS_STORE_WAL_CAP';
  }

  resume(): void {
    this.#refusal = undefined;
  }

  /**
   * A check run before every write (the checkpoint job's WAL cap), so that a cap is enforced at the
   * write that crosses it rather than at the next poll, however late a loaded machine runs timers.
   */
  setAdmission(check: (() => void) | undefined): void {
    this.#admission = check;
  }
}
