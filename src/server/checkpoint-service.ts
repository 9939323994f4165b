/**
 * What the HTTP API reads of the WAL checkpoints, declared here so that the server depends on no
 * concrete job (pulse's `CheckpointJob` satisfies it structurally).
 */
export interface CheckpointService {
  status(): CheckpointStatusRecord;
  on(event: 'step', listener: (mode: string, result: 'done' | 'busy' | 'failed') => void): unknown;
  /** After writes were held for a restart or truncate step, with how long (ms). */
  on(event: 'hold', listener: (ms: number) => void): unknown;
}

/** The checkpoint job's state, as far as the server reads it. */
export interface CheckpointStatusRecord {
  readonly walBytes: number;
  readonly walPeakBytes: number;
  readonly maxWalBytes: number;
  readonly framesBehind: number;
  readonly restarts: number;
  readonly secondsSinceRestart: number;
  readonly writesRefused: string | undefined;
  readonly worker: 'ok' | 'restarting' | 'failed';
  readonly workerFailures: number;
  readonly lastError: string | undefined;
}
