import { StoreError } from './errors.js';

/** What one background slice of the eviction backlog removed, and how long it held the event loop. */
export interface EvictionSlice {
  readonly attestations: number;
  readonly rows: number;
  /** Event-loop time of the slice's transaction. */
  readonly ms: number;
  /** Whether pairs are still waiting after it. */
  readonly backlog: boolean;
}

/** What the store reports about its eviction backlog (a hook for logs and the bench). */
export type EvictionEvent =
  | ({ readonly kind: 'slice' } & EvictionSlice)
  | {
      /** The backlog is empty again: totals since it was last empty (or since the store opened). */
      readonly kind: 'drained';
      readonly slices: number;
      readonly attestations: number;
      readonly rows: number;
      readonly maxSliceMs: number;
    }
  | {
      /** A slice failed; the drain tries again after `retryInMs`. */
      readonly kind: 'failed';
      readonly error: StoreError;
      readonly retryInMs: number;
    };

/** After a refused or failed slice (busy, WAL cap, full disk, other), the drain tries again this much later. */
export const EVICTION_RETRY_MS = 1000;

/**
 * Drains the eviction backlog off the request path: one bounded slice per turn of the event loop
 * (setImmediate, so requests that arrived meanwhile are served between slices), each through the
 * write gate like any write, so holds, refusals (503/507) and busy retries apply to it too. A
 * refused or failed slice is retried after EVICTION_RETRY_MS. The backlog itself is in the
 * database; this only decides when to work on it. Timers are unref'd: a process that is otherwise
 * done exits, and the next open carries on.
 */
export class EvictionDrain {
  readonly #slice: () => Promise<EvictionSlice | undefined>;
  readonly #onEvent: ((event: EvictionEvent) => void) | undefined;
  #pending: NodeJS.Immediate | NodeJS.Timeout | undefined;
  #running = false;
  // A wake() while a slice runs: the backlog may have grown after the slice looked.
  #woken = false;
  #closed = false;
  #run = { slices: 0, attestations: 0, rows: 0, maxSliceMs: 0 };

  /** `slice` runs one slice through the write gate; it returns undefined when it finds the drain stopped. */
  constructor(
    slice: () => Promise<EvictionSlice | undefined>,
    onEvent: ((event: EvictionEvent) => void) | undefined,
  ) {
    this.#slice = slice;
    this.#onEvent = onEvent;
  }

  /** Schedules a slice soon, unless one is scheduled or running (it reschedules itself while pairs wait). */
  wake(): void {
    if (this.#running) this.#woken = true;
    if (this.#closed || this.#running || this.#pending !== undefined) return;
    this.#pending = setImmediate(() => void this.#step()).unref();
  }

  /** Whether close() was called: a slice waiting in the write gate checks this before it writes. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops for good: no slice writes after this; what is left stays in the backlog for the next open. */
  close(): void {
    this.#closed = true;
    if (this.#pending !== undefined) {
      clearImmediate(this.#pending as NodeJS.Immediate);
      clearTimeout(this.#pending as NodeJS.Timeout);
      this.#pending = undefined;
    }
  }

  async #step(): Promise<void> {
    this.#pending = undefined;
    if (this.#closed) return;
    this.#running = true;
    this.#woken = false;
    let slice: EvictionSlice | undefined;
    try {
      slice = await this.#slice();
      if (slice === undefined) return;
    } catch (err) {
      const error =
        err instanceof StoreError
          ? err
          : new StoreError('ATS_STORE_DB', `evict: ${(err as Error).message}`, { cause: err });
      if (error.code === 'ATS_STORE_CLOSED' || this.#closed) return;
      this.#pending = setTimeout(() => void this.#step(), EVICTION_RETRY_MS).unref();
      this.#onEvent?.({ kind: 'failed', error, retryInMs: EVICTION_RETRY_MS });
      return;
    } finally {
      this.#running = false;
    }
    const run = this.#run;
    run.slices++;
    run.attestations += slice.attestations;
    run.rows += slice.rows;
    run.maxSliceMs = Math.max(run.maxSliceMs, slice.ms);
    if (slice.backlog || this.#woken) this.wake();
    this.#onEvent?.({ kind: 'slice', ...slice });
    if (!slice.backlog && !this.#woken) {
      this.#run = { slices: 0, attestations: 0, rows: 0, maxSliceMs: 0 };
      this.#onEvent?.({ kind: 'drained', ...run });
    }
  }
}
