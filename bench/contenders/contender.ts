/** Where and how long one contender may copy. */
export interface RunContext {
  /** The database to back up (a working copy of a dataset, possibly under load). */
  readonly source: string;
  /** An empty folder for the copy; the bench removes what is left in it. */
  readonly outDir: string;
  /** Past this the contender is stopped and reported as "did not finish". */
  readonly capMs: number;
}

/** Event-loop delay of the process that ran the copy, in ms. */
export interface EventLoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What one contender did in one cell. */
export interface ContenderRun {
  /** True when a complete copy was written before the cap. */
  readonly finished: boolean;
  /** Why it did not finish when that was not the cap. */
  readonly error?: string | undefined;
  /** Monotonic ms bounding the copy (the window in which the writer's commits are judged). */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Until the copy is complete and fsynced, without verification. */
  readonly copyMs: number;
  /** How long the source snapshot was held (ats engines: from their result). */
  readonly holdMs?: number | undefined;
  /** ats engines: which engine ran (and on fallback why), from their result. */
  readonly engine?: string | undefined;
  /**
   * ats engines: the engine's own copy time from their result (pin to a durable, self-contained
   * file; verification, the process and worker start, the catalogue and rotation excluded): what
   * issue 13's targets judge. `copyMs` stays the whole run's time up to verification.
   */
  readonly engineCopyMs?: number | undefined;
  /** Block engine: the child's bulk copy of the file (inside the hold). */
  readonly bulkMs?: number | undefined;
  /** ats engines: hashing the copy for the catalogue (beside the fsync). */
  readonly checksumMs?: number | undefined;
  /** The contender's own verification of its copy, when it has one. */
  readonly verifyMs?: number | undefined;
  /** Wall time of the whole run as a user sees it (process start to exit, verification included). */
  readonly wallMs: number;
  /** Times the copy started over from page 1 because the source changed. */
  readonly restarts?: number | undefined;
  /** Steps retried because the source was BUSY or LOCKED. */
  readonly busyRetries?: number | undefined;
  /** Peak resident memory of the process that copied. */
  readonly peakRssKb?: number | undefined;
  /** Peak RSS minus RSS just before the copy began (in-process contenders only). */
  readonly rssGrowthKb?: number | undefined;
  readonly eventLoop?: EventLoopDelay | undefined;
  /** The copy, for the bench's own integrity check; removed afterwards. */
  readonly output?: string | undefined;
  /**
   * cp + fsync of the same source taken right beside this run (before it on even runs, after it on
   * odd ones), for contenders with `pairWithCp`: this disk's write speed drifts by 5x within
   * minutes, so only a copy timed beside the run is a fair yardstick for its ratio.
   */
  readonly pairedCpMs?: number | undefined;
}

/** One backup tool, run the same way in every cell. */
export interface Contender {
  /** Short id used on the command line (`--cases`). */
  readonly id: string;
  /** Name in the report's tables. */
  readonly label: string;
  /** One sentence for the report on what exactly runs. */
  readonly description: string;
  /** Why it cannot run on this machine, or undefined when it can. */
  unavailable(): string | undefined;
  run(ctx: RunContext): Promise<ContenderRun>;
  /** Time a cp + fsync beside every run (see `ContenderRun.pairedCpMs`), at least 3 runs a cell. */
  readonly pairWithCp?: boolean | undefined;
}
