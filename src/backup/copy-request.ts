import type { DescriptorSource } from './block-copy/shm-registry.js';
import type { BackupEngine, BackupProgress, VerifyMode } from './options.js';
import type { VerifyOutcome } from './verify.js';

/** What the copy worker is asked to do. */
export interface CopyRequest {
  readonly source: string;
  /** Temporary file to create (it must not exist); the caller renames it into place. */
  readonly tmp: string;
  /** Permission bits of the new file: those of the source, so a backup is never more readable. */
  readonly mode: number;
  readonly verify: VerifyMode;
  readonly busyTimeoutMs: number;
  readonly maxReadLockMs: number;
  readonly stepPages: number;
  /** Which engine copies: 'auto' tries the block copy and falls back to the backup API. */
  readonly engine: BackupEngine;
  /**
   * Block engine: memory the snapshot's WAL pages may take; pages past it are written over the copy
   * straight from the WAL before the snapshot is released (a longer hold instead). Default 32 MiB.
   */
  readonly maxOverlayBytes?: number;
}

/** What the block engine saw while it held the snapshot (for the oracle's case counts and the bench). */
export interface BlockCopyStats {
  /** Program that bulk-copied the file. */
  readonly tool: string;
  /** Pins retried because the wal-index header moved while the read transaction began. */
  readonly pinTries: number;
  /** WAL frames of the snapshot (0 in rollback-journal mode). */
  readonly walFrames: number;
  /** Every frame of the snapshot was already in the database file when it was pinned: the file alone is the snapshot, no overlay. */
  readonly fileAlone: boolean;
  /** Pages written over the bulk copy from those frames. */
  readonly overlayPages: number;
  /** Of those, pages past the memory budget, written from the WAL while the snapshot was held. */
  readonly streamedPages: number;
  /** True when the pin landed on read mark 0 (every frame already in the file), false when on a WAL mark, undefined when unknown. */
  readonly markZero: boolean | undefined;
  /** The WAL was reset (new salts) while the snapshot was held (the pin was then on read mark 0). */
  readonly walReset: boolean;
  /** A checkpoint wrote to the database file while the bulk copy ran. */
  readonly checkpointDuringCopy: boolean;
  /** Milliseconds the child process took to copy the file. */
  readonly bulkMs: number;
}

/** What one snapshot copy produced. */
export interface CopyResult {
  /** The engine that made the copy. */
  readonly engine: 'block' | 'backup-api';
  /** Why the block engine was not used when `engine` was 'auto'; undefined when it was not tried or succeeded. */
  readonly fallbackReason: string | undefined;
  readonly pages: number;
  readonly pageSize: number;
  readonly bytes: number;
  readonly journalMode: string;
  readonly busyRetries: number;
  /** Until the copy is durable and self-contained (fsynced, marked rollback-journal), verification excluded. */
  readonly copyMs: number;
  /** sha256 of the finished copy (hex), read back from it by another thread once every write to it was done. */
  readonly checksum: string;
  /** How long hashing the copy took; it runs beside the fsync and the verification, so only what outlasts both adds to the backup. */
  readonly checksumMs: number;
  /** How long the source snapshot (and, in rollback-journal mode, its read lock) was held. */
  readonly holdMs: number;
  /** Block engine only: what it saw while it held the snapshot. */
  readonly block: BlockCopyStats | undefined;
  readonly verify: VerifyOutcome;
}

/** How the copy reports progress and learns it was cancelled. */
export interface CopyHooks {
  cancelled(): boolean;
  progress(progress: BackupProgress): void;
  /** Where the block engine gets its `-shm` descriptors; default: this thread's registry. */
  descriptors?: DescriptorSource;
}
