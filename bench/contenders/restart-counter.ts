/**
 * Counts, from better-sqlite3's progress reports, the steps of a stepped backup that started over
 * from page 1 because another connection committed, and the steps that copied nothing (BUSY).
 *
 * A restarted step leaves the pages done (`totalPages - remainingPages`) at one step's worth: that
 * catches `remainingPages` going up and also restarts in a row, where it stays level instead,
 * which is the common case under a fast writer. (A WAL reader is practically never BUSY, so a
 * level count at one step's worth is taken as a restart.)
 */
export class RestartCounter {
  readonly #stepPages: number;
  #done = 0;
  restarts = 0;
  busy = 0;

  constructor(stepPages: number) {
    this.#stepPages = stepPages;
  }

  /** Feeds one progress report; returns true when that step copied nothing (BUSY). */
  observe(totalPages: number, remainingPages: number): boolean {
    const done = totalPages - remainingPages;
    const previous = this.#done;
    this.#done = done;
    if (previous === 0) return false;
    if (done <= this.#stepPages || done < previous) {
      this.restarts++;
      return false;
    }
    if (done === previous) {
      this.busy++;
      return true;
    }
    return false;
  }
}
