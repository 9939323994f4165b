import type { DestinationConfig } from './destinations.js';

/** How a finished backup is checked (the backup engine's `verify` option). */
export type BackupVerify = 'quick' | 'full' | 'off';

/** One `[[Database.destination]]` (the URL a file:// or s3:// URL). */
export type Destination = DestinationConfig;

/** Which engine copies a backup (the backup engine's `engine` option). */
export type BackupEngineChoice = 'auto' | 'block' | 'backup-api';

/** The validated settings of `am.toml`. Every object in it is frozen. */
export interface Config {
  /** Absolute path of the file read; undefined when only defaults apply. */
  readonly file: string | undefined;
  readonly database: {
    /** Absolute path of the SQLite database. */
    readonly path: string;
    /** Seconds between backups; 0 disables them. */
    readonly backupIntervalSeconds: number;
    /** Backup generations kept: `.bak1` newest, `.bak2` the one before, ... */
    readonly backupKeep: number;
    /** Absolute folder the generations are written to. */
    readonly backupDir: string;
    readonly backupVerify: BackupVerify;
    /** 'auto': block copy, the backup API when a precondition fails; 'block'; 'backup-api'. */
    readonly backupEngine: BackupEngineChoice;
    /** A backup running longer than this is cancelled. */
    readonly backupTimeoutSeconds: number;
    /** Past this size of the -wal file writes get 503 until checkpoints bring it back under. */
    readonly maxWalBytes: number;
    /** Off-site destinations each verified periodic backup is uploaded to (`[[Database.destination]]`); a continuous one gets the WAL shipped. */
    readonly destinations: readonly DestinationConfig[];
  };
  readonly pulse: {
    /** Seconds between ticks of the periodic-work loop (fractions allowed). */
    readonly tickerIntervalSeconds: number;
  };
  readonly server: {
    readonly host: string;
    /** 0 means any free port. */
    readonly port: number;
    /** Bearer token: `[Server] token`, else env ATS_TOKEN, else undefined. */
    readonly token: string | undefined;
    readonly maxBodyBytes: number;
    /** Connections beyond this are dropped. */
    readonly maxConnections: number;
    /** A request (headers and body) must arrive within this. */
    readonly requestTimeoutSeconds: number;
    /** On shutdown, requests in flight get this long before their connections are closed. */
    readonly shutdownGraceSeconds: number;
  };
  readonly ats: {
    /** enforce_limits keeps at most this many attestations per (actor, context). */
    readonly maxPerActorContext: number;
    /** Most attestations accepted in one put. */
    readonly maxBatch: number;
  };
}

/**
 * Every default, in one place. Paths are relative to the config file's folder (or to the working
 * folder when there is no file); `backupDir: undefined` means the database's folder.
 */
export const DEFAULTS = Object.freeze({
  database: Object.freeze({
    path: './data/ats.db',
    backupIntervalSeconds: 3600,
    backupKeep: 2,
    backupDir: undefined as string | undefined,
    backupVerify: 'quick' as BackupVerify,
    backupEngine: 'auto' as BackupEngineChoice,
    backupTimeoutSeconds: 3600,
    maxWalBytes: 268_435_456, // 4x the store's journal_size_limit
  }),
  pulse: Object.freeze({ tickerIntervalSeconds: 1 }),
  server: Object.freeze({
    host: '127.0.0.1',
    port: 8787,
    token: undefined as string | undefined,
    maxBodyBytes: 1_048_576,
    maxConnections: 256,
    requestTimeoutSeconds: 30,
    shutdownGraceSeconds: 10,
  }),
  ats: Object.freeze({ maxPerActorContext: 64, maxBatch: 1000 }),
});
