import type { Logger } from './logger.js';

/** Periodic work run by the {@link Ticker}. `tick` must return at once; long work goes to the background. */
export interface PulseJob {
  readonly name: string;
  tick(now: number): void;
  /** Stops the job: cancels or finishes work in flight. */
  stop(): Promise<void>;
}

/**
 * The Pulse ticker: calls every job each interval. A job that throws is logged and the loop
 * carries on; `stop()` ends the loop and waits for every job's work in flight.
 */
export class Ticker {
  readonly #intervalMs: number;
  readonly #jobs: readonly PulseJob[];
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, jobs: readonly PulseJob[], log: Logger) {
    this.#intervalMs = intervalMs;
    this.#jobs = jobs;
    this.#log = log;
  }

  start(): void {
    this.tick();
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
  }

  tick(now = Date.now()): void {
    for (const job of this.#jobs) {
      try {
        job.tick(now);
      } catch (err) {
        this.#log.error({ job: job.name, err }, 'pulse job failed to tick');
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#jobs.map((job) => job.stop()));
  }
}
