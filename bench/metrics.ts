/** Latency figures of the commits (or requests) that ended inside one time window. */
export interface LatencyStats {
  readonly count: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The `q`-quantile (0..1) of an ascending array, nearest-rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

/** The median of `values` (the mean of the middle two when their number is even); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A time window [from, to) in monotonic ms. */
export type Window = readonly [number, number];

/**
 * Stats of the samples (interleaved [end time ms, latency ms] pairs) that ended in any of the
 * windows. Returns undefined when the windows cover no time.
 */
export function windowStats(samples: Float64Array, windows: readonly Window[]): LatencyStats | undefined {
  const total = windows.reduce((sum, [from, to]) => sum + Math.max(0, to - from), 0);
  if (!(total > 0)) return undefined;
  const values: number[] = [];
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const t = samples[i] ?? 0;
    if (windows.some(([from, to]) => t >= from && t < to)) values.push(samples[i + 1] ?? 0);
  }
  if (values.length === 0) return { count: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    perSecond: (sorted.length * 1000) / total,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
  };
}

/** One bucket of a downsampled latency series, for the plot. */
export interface SeriesPoint {
  /** Seconds from the series' origin. */
  readonly t: number;
  readonly p50Ms: number;
  readonly maxMs: number;
  readonly count: number;
}

/** Downsamples samples in [from, to) into buckets of `bucketMs`, keeping each bucket's median and max. */
export function latencySeries(
  samples: Float64Array,
  from: number,
  to: number,
  bucketMs: number,
): SeriesPoint[] {
  const buckets = Array.from(
    { length: Math.max(1, Math.ceil((to - from) / bucketMs)) },
    () => [] as number[],
  );
  for (let i = 0; i + 1 < samples.length; i += 2) {
    const t = samples[i] ?? 0;
    if (t < from || t >= to) continue;
    buckets[Math.floor((t - from) / bucketMs)]?.push(samples[i + 1] ?? 0);
  }
  return buckets.map((values, i) => {
    const sorted = Float64Array.from(values).sort();
    return {
      t: (i * bucketMs) / 1000,
      p50Ms: round(quantile(sorted, 0.5)),
      maxMs: round(sorted[sorted.length - 1] ?? NaN),
      count: sorted.length,
    };
  });
}

/** Rounds to 3 decimals (µs for ms figures), keeping NaN. */
export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
