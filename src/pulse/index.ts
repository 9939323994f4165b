// Public surface of the Pulse ticker and its jobs.

export type { BackupFailure, BackupFile, BackupJobOptions } from './backup-job.js';
export { BackupJob } from './backup-job.js';
export type {
  CheckpointCounts,
  CheckpointJobOptions,
  CheckpointStatus,
  CheckpointStep,
  WriteControl,
} from './checkpoint-job.js';
export { CheckpointJob } from './checkpoint-job.js';
export type { CheckpointMode, CheckpointOutcome } from './checkpoint-runner.js';
export type { ContinuousJobOptions, OffsiteWaitOutcome } from './continuous-job.js';
export { ContinuousJob } from './continuous-job.js';
export type { Logger } from './logger.js';
export type { DestinationStatus, OffsiteTarget } from './offsite-job.js';
export { OffsiteJob } from './offsite-job.js';
export type { PulseJob } from './ticker.js';
export { Ticker } from './ticker.js';
