// Public surface of the Pulse ticker and its jobs.

export type { BackupFailure, BackupFile, BackupJobOptions } from './backup-job.js';
export { BackupJob } from './backup-job.js';
export type { CheckpointOutcome } from './checkpoint-job.js';
export { CheckpointJob } from './checkpoint-job.js';
export type { ContinuousJobOptions } from './continuous-job.js';
export { ContinuousJob } from './continuous-job.js';
export type { Logger } from './logger.js';
export type { PulseJob } from './ticker.js';
export { Ticker } from './ticker.js';
