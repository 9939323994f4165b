/**
 * Milliseconds on the system's monotonic clock. `process.hrtime` reads CLOCK_MONOTONIC, which all
 * processes of the machine share, so times taken in the writer, a contender and the bench line up.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
