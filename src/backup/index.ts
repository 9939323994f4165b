// Public surface of the backup engine. It copies any SQLite file and knows nothing of the store,
// the server or the ticker.

export { lineageOfFile } from './backup-lineage.js';
export type { BackupLocation, BackupRecord, Generation } from './catalogue.js';
export { backupBase, findRecord, generationPath, listGenerations, resolveBackup } from './catalogue.js';
export type {
  CompactionOutcome,
  CompactionPolicy,
  ContinuousRestoreOptions,
  ContinuousRestoreResult,
  ContinuousRetentionOutcome,
  LineageSummary,
  LogPosition,
  ObjectHeader as SegmentHeader,
  ObjectStore,
  RestorePlan,
  RestoreTarget,
  SealResult,
  ShipperLogger,
  ShipperOptions,
  ShipperPosition,
  StreamDestination,
  UploadWait,
  WalPosition,
  WalTransaction,
} from './continuous/index.js';
export {
  applyContinuousRetention,
  COMPACTION_DEFAULTS,
  checkObject,
  compactSegments,
  DatabaseChecksum,
  describeContinuous,
  EncryptingStore,
  FolderStore,
  fileChecksum,
  formatChecksum,
  isEncryptedHeader,
  listLineages,
  ObjectWriter,
  pageChecksum,
  planRestore,
  readObject,
  readStoreLeases,
  restoreContinuous,
  scanWal,
  streamStore,
  takeStoreLease,
  WalShipper,
} from './continuous/index.js';
export type { BlockCopyStats } from './copy-request.js';
export type { ByteRange, Destination, DestinationInfo, RemoteEntry } from './destination.js';
export type { BackupErrorCode } from './errors.js';
export { BackupError } from './errors.js';
export { faultPoint } from './fault-points.js';
export type { FileId } from './file-identity.js';
export { fileId, sameFile } from './file-identity.js';
export type { FileLock } from './file-lock.js';
export { lockOwner, tryLock } from './file-lock.js';
export type { Lineage } from './lineage.js';
export { ensureLineage, readLineage } from './lineage.js';
export { FolderDestination } from './local-destination.js';
export type { EncryptionKey } from './object-crypto.js';
export { KEY_ENV, keyFromEnv, loadKeyFile } from './object-crypto.js';
export type { ObjectHeader } from './object-format.js';
export type { PlainFacts } from './object-stream.js';
export type { DownloadOptions, DownloadResult, RemoteBackup } from './offsite-download.js';
export {
  downloadBackup,
  listRemoteBackups,
  readRemoteHeader,
  resolveRemoteBackup,
} from './offsite-download.js';
export type { UploadOptions, UploadResult } from './offsite-upload.js';
export { uploadBackup } from './offsite-upload.js';
export type { OpenDestinationOptions } from './open-destination.js';
export { destinationUrlProblem, isDestinationUrl, openDestination } from './open-destination.js';
export type { BackupEngine, BackupOptions, BackupProgress, VerifyMode } from './options.js';
export { BACKUP_DEFAULTS, BACKUP_ENGINES } from './options.js';
export type { RestoreOptions, RestoreResult } from './restore.js';
export { finishInterruptedRestore, restoreBackup } from './restore.js';
export { takeLease } from './restore-lease.js';
export type { RetentionOutcome, RetentionPolicy } from './retention.js';
export { applyRetention, DEFAULT_REMOTE_KEEP } from './retention.js';
export type { RemovedGeneration } from './rotation.js';
export type { BackupResult } from './run-backup.js';
export { runBackup } from './run-backup.js';
export type { S3ClientSettings } from './s3-client.js';
export { S3_DEFAULTS, s3Settings } from './s3-client.js';
export type { VerifyOutcome } from './verify.js';
export { verifyDatabase } from './verify.js';
