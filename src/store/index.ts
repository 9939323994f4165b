// Public surface of the attestation store.

export type {
  Attestation,
  AttestationInput,
  AttestationQuery,
  StoreLimits,
  StoreStats,
} from './attestation.js';
export type { AttestationStore, WriteControl } from './attestation-store.js';
export { openStore } from './attestation-store.js';
export type { StoreErrorCode, StoreErrorDetails } from './errors.js';
export { StoreError } from './errors.js';
export { SCHEMA_VERSION } from './migrations.js';
export { WAL_SIZE_LIMIT_BYTES } from './open-database.js';
export { WRITE_WAIT_MS } from './write-gate.js';
