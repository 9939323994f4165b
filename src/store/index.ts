// Public surface of the attestation store.

export type {
  Attestation,
  AttestationInput,
  AttestationPage,
  AttestationQuery,
  StoreLimits,
  StoreStats,
} from './attestation.js';
export type { AttestationStore, StoreOptions, WriteControl } from './attestation-store.js';
export { openStore } from './attestation-store.js';
export type { StoreErrorCode, StoreErrorDetails } from './errors.js';
export { StoreError } from './errors.js';
export type { EvictionEvent, EvictionSlice } from './eviction-drain.js';
export { EVICTION_RETRY_MS } from './eviction-drain.js';
export { EVICTION_LIMITS, INPUT_LIMITS, QUERY_LIMITS } from './limits.js';
export { SCHEMA_VERSION } from './migrations.js';
export { checkStorePath, createDatabaseFile, WAL_SIZE_LIMIT_BYTES } from './open-database.js';
export { WRITE_WAIT_MS } from './write-gate.js';
