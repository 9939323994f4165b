// Public surface of the HTTP API.

export type { AppDeps } from './app.js';
export { buildApp } from './app.js';
export type { BackupFileRecord, BackupRunRecord, BackupService } from './backup-service.js';
export type { CheckpointService, CheckpointStatusRecord } from './checkpoint-service.js';
export type {
  ContinuousService,
  ContinuousStatusRecord,
  OffsitePosition,
  OffsiteWaitOutcome,
} from './continuous-service.js';
export type { HttpLimits } from './http-limits.js';
export { closeApp, HTTP_LIMITS } from './http-limits.js';
