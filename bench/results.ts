import type { LoadId } from './args.js';
import type { CopyCheck } from './check-copy.js';
import type { ContenderRun } from './contenders/index.js';
import type { LatencyStats, SeriesPoint } from './metrics.js';

/** How a cell ended. */
export type CellStatus = 'finished' | 'did-not-finish' | 'failed' | 'skipped' | 'unavailable';

/** The writer's commits during a backup next to a baseline window of the same length. */
export interface WriterFigures {
  /** Length of both windows (the backup's, up to the window limit). */
  readonly windowMs: number;
  readonly during: LatencyStats;
  readonly baseline: LatencyStats;
  /** Slowest commit in the seconds right after the backup (the checkpoint catching up). */
  readonly afterMaxMs: number;
  readonly afterMs: number;
  readonly errors: number;
}

/** The writer's latency over a whole cell, downsampled, with the backup's window marked. */
export interface CellSeries {
  readonly bucketMs: number;
  /** Each backup's [start, end], in seconds from the series' start. */
  readonly backups: readonly (readonly [number, number])[];
  readonly baselineStart: number;
  readonly baselineEnd: number;
  readonly points: readonly SeriesPoint[];
}

/** One contender on one database under one load. */
export interface CellResult {
  readonly sizeMb: number;
  readonly load: LoadId;
  readonly contender: string;
  /** Set on the extra profiling cells: the same cell with a writer that never checkpoints inline. */
  readonly profile?: 'writer-without-autocheckpoint' | undefined;
  readonly status: CellStatus;
  readonly reason?: string | undefined;
  /** The median run (by copy time) with the worst memory and event-loop figures of all runs. */
  readonly run?: Omit<ContenderRun, 'output'> | undefined;
  /** Every run of the cell: short backups are repeated back to back to cover the minimum window. */
  readonly runs?:
    | readonly {
        copyMs: number;
        engineCopyMs?: number | undefined;
        holdMs?: number | undefined;
        bulkMs?: number | undefined;
        verifyMs?: number | undefined;
        /** cp + fsync of the same source timed beside this run (paired contenders). */
        pairedCpMs?: number | undefined;
        wallMs: number;
        finished: boolean;
      }[]
    | undefined;
  readonly check?: CopyCheck | undefined;
  readonly writer?: WriterFigures | undefined;
  readonly walPeakBytes?: number | undefined;
  readonly series?: CellSeries | undefined;
}

/** One backup the service's ticker ran during the HTTP load. */
export interface ServiceBackup {
  readonly durationMs: number;
  readonly copyMs: number | undefined;
  readonly verifyMs: number | undefined;
  /** Monotonic ms (converted from the service's wall-clock times). */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** The real service under HTTP load while its ticker backs up. */
export interface ServiceResult {
  readonly sizeMb: number;
  readonly status: 'finished' | 'failed' | 'skipped' | 'unavailable';
  readonly reason?: string | undefined;
  readonly httpRate?: number;
  readonly backups?: readonly ServiceBackup[];
  /** Requests answered while a backup ran, next to the same length of time without one. */
  readonly during?: LatencyStats | undefined;
  readonly baseline?: LatencyStats | undefined;
  /** Total time backups ran during the load. */
  readonly windowMs?: number;
  readonly requests?: number;
  readonly failedRequests?: number;
  readonly peakRssKb?: number | undefined;
  readonly rssBeforeKb?: number | undefined;
  readonly walPeakBytes?: number | undefined;
  /** The service's own event-loop delay (prom-client, beyond its 10 ms sampling interval) during its backups and in as long a stretch without. */
  readonly eventLoopDuring?: { readonly p99Ms: number; readonly maxMs: number } | undefined;
  readonly eventLoopWithout?: { readonly p99Ms: number; readonly maxMs: number } | undefined;
}
