// Continuous backup: WAL shipping and point-in-time restore (re-exported by the backup index).
export type { CompactionOutcome, CompactionPolicy } from './compaction.js';
export { COMPACTION_DEFAULTS, compactSegments } from './compaction.js';
export type { ObjectStore } from './destination.js';
export { FolderStore } from './destination.js';
export { EncryptingStore, isEncryptedHeader } from './encrypted-store.js';
export { DatabaseChecksum, formatChecksum, pageChecksum } from './page-checksum.js';
export type { ContinuousRestoreOptions, ContinuousRestoreResult } from './restore-continuous.js';
export { fileChecksum, restoreContinuous } from './restore-continuous.js';
export type { LineageSummary, PlannedObject, RestorePlan, RestoreTarget } from './restore-plan.js';
export { describeContinuous, listLineages, planRestore } from './restore-plan.js';
export type { ContinuousRetentionOutcome } from './retention.js';
export { applyContinuousRetention } from './retention.js';
export type { ObjectHeader, RecordHeader } from './segment-format.js';
export { checkObject, ObjectWriter, readObject } from './segment-format.js';
export { readStoreLeases, takeStoreLease } from './store-lease.js';
export type { StreamDestination } from './stream-store.js';
export { streamStore } from './stream-store.js';
export type { WalHeader, WalPosition, WalScan, WalTransaction } from './wal-file.js';
export { parseWalHeader, scanWal, walChecksum } from './wal-file.js';
export type {
  LogPosition,
  SealResult,
  ShipperLogger,
  ShipperOptions,
  ShipperPosition,
  UploadWait,
} from './wal-shipper.js';
export { WalShipper } from './wal-shipper.js';
