import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Logger } from './logger.js';
import type { PulseJob } from './ticker.js';

/** What the checkpoint worker is started with. */
export interface CheckpointWorkerData {
  readonly database: string;
}

/** What one checkpoint did. */
export interface CheckpointOutcome {
  readonly walFrames: number;
  readonly checkpointedFrames: number;
  readonly ms: number;
}

type Reply = { ok: true; outcome: CheckpointOutcome } | { ok: false; reason: string };

/**
 * WAL checkpoints off the request path. The application's connection never checkpoints on commit
 * (wal_autocheckpoint=0); this job does, each tick, from its own connection in a worker thread,
 * with PASSIVE checkpoints, which never block writers. Once a checkpoint has copied everything,
 * the next commit restarts the WAL and trims its file to the store's journal_size_limit.
 */
export class CheckpointJob implements PulseJob {
  readonly name = 'checkpoint';
  readonly #wal: string;
  readonly #log: Logger;
  readonly #worker: Worker;
  #inFlight: Promise<void> | undefined;
  #last: CheckpointOutcome | undefined;
  readonly #beforeCheckpoint: (() => boolean) | undefined;

  /**
   * `beforeCheckpoint` is the seam for a WAL shipper ("seal, ship, then checkpoint"): called
   * synchronously right before every checkpoint is handed to the worker; false skips it.
   */
  constructor(database: string, log: Logger, beforeCheckpoint?: () => boolean) {
    this.#wal = `${database}-wal`;
    this.#log = log;
    this.#beforeCheckpoint = beforeCheckpoint;
    const data: CheckpointWorkerData = { database };
    this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: data });
    this.#worker.unref();
  }

  get last(): CheckpointOutcome | undefined {
    return this.#last;
  }

  tick(): void {
    if (this.#inFlight !== undefined) return;
    const walBytes = fs.statSync(this.#wal, { throwIfNoEntry: false })?.size ?? 0;
    if (walBytes === 0) return;
    if (this.#beforeCheckpoint !== undefined && !this.#beforeCheckpoint()) return;
    this.#inFlight = this.#checkpoint().finally(() => (this.#inFlight = undefined));
  }

  async stop(): Promise<void> {
    await this.#inFlight;
    await this.#worker.terminate();
  }

  #checkpoint(): Promise<void> {
    return new Promise((resolve) => {
      const onExit = (code: number): void => {
        this.#log.error({ event: 'checkpoint_fail', code }, 'checkpoint worker exited');
        resolve();
      };
      this.#worker.once('exit', onExit);
      this.#worker.once('message', (reply: Reply) => {
        this.#worker.off('exit', onExit);
        if (reply.ok) this.#last = reply.outcome;
        else this.#log.error({ event: 'checkpoint_fail', reason: reply.reason }, 'checkpoint failed');
        resolve();
      });
      this.#worker.postMessage('checkpoint');
    });
  }
}
