/** What an in-node job is asked to do, in the contender host process. */
export interface JobRequest {
  readonly source: string;
  readonly outDir: string;
  readonly capMs: number;
}

/** What an in-node job reports; the host adds timing, event-loop delay and memory. */
export interface JobOutcome {
  readonly finished: boolean;
  readonly error?: string | undefined;
  /** Until the copy is complete and fsynced, without verification. */
  readonly copyMs: number;
  readonly verifyMs?: number | undefined;
  readonly restarts?: number | undefined;
  readonly busyRetries?: number | undefined;
  readonly output?: string | undefined;
  /** ats engines: see {@link ContenderRun}. */
  readonly holdMs?: number | undefined;
  readonly engine?: string | undefined;
  readonly engineCopyMs?: number | undefined;
  readonly bulkMs?: number | undefined;
  readonly checksumMs?: number | undefined;
  /** True when the job fsynced its copy itself; otherwise the host does, after the copy. */
  readonly durable?: boolean | undefined;
}

/** A copy run inside the contender host process. */
export interface InNodeJob {
  /** Loads what the job needs before the measured window opens. */
  prepare?(): Promise<void>;
  run(req: JobRequest): Promise<JobOutcome>;
}

/** Thrown from a progress handler to stop a copy at the cap. */
export class CapReached extends Error {
  constructor(capMs: number) {
    super(`did not finish within the ${capMs} ms cap`);
  }
}
