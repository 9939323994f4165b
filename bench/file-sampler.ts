import { fileSize } from './dataset.js';

/** Samples a file's size every few ms (the WAL's growth while a backup holds a snapshot). */
export class FileSizeSampler {
  readonly #file: string;
  readonly #timer: NodeJS.Timeout;
  #peak = 0;

  constructor(file: string, everyMs = 20) {
    this.#file = file;
    this.#peak = fileSize(file);
    this.#timer = setInterval(() => {
      this.#peak = Math.max(this.#peak, fileSize(this.#file));
    }, everyMs);
  }

  /** Stops sampling; returns the largest size seen. */
  stop(): number {
    clearInterval(this.#timer);
    return Math.max(this.#peak, fileSize(this.#file));
  }
}
