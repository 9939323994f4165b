// Public surface of the Pulse ticker and its jobs.
export { Ticker } from './ticker.js';
export type { PulseJob } from './ticker.js';
export { BackupJob } from './backup-job.js';
export type { BackupJobOptions, BackupFailure, BackupFile } from './backup-job.js';
export { CheckpointJob } from './checkpoint-job.js';
export type { CheckpointOutcome } from './checkpoint-job.js';
export type { Logger } from './logger.js';
