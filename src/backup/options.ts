import { BackupError } from './errors.js';

/** How a finished copy is checked before it may replace an older backup. */
export type VerifyMode = 'quick' | 'full' | 'off';

/** Which engine copies the snapshot: 'auto' (block copy, backup API when it cannot), 'block' or 'backup-api'. */
export type BackupEngine = 'auto' | 'block' | 'backup-api';

/** The engines, for validation and help texts. */
export const BACKUP_ENGINES: readonly BackupEngine[] = Object.freeze(['auto', 'block', 'backup-api']);

/** Where a running backup is, as reported to `onProgress`. */
export interface BackupProgress {
  /**
   * 'copy': the snapshot is held and copied; 'sync': the copy is complete and the source's snapshot
   * released (from here on the backup holds up none of the source's checkpoints), the file is made
   * durable; 'verify': it is checked; 'rotate': it takes its place among the generations.
   */
  readonly phase: 'copy' | 'sync' | 'verify' | 'rotate';
  readonly pagesDone: number;
  readonly pagesTotal: number;
}

/** Options of {@link runBackup}. Only `source` is required. */
export interface BackupOptions {
  /** The SQLite database to back up. */
  readonly source: string;
  /** Base path of the generations (`<target>.bak1`, `.bak2`, ...). Default: the source path. */
  readonly target?: string;
  /** How many generations to keep, newest first. Default 2. */
  readonly keep?: number;
  /** Check of the copy before rotation. Default 'quick' (PRAGMA quick_check). */
  readonly verify?: VerifyMode;
  /** How long to keep retrying (5 ms apart) while the source is BUSY or LOCKED. Default 10 000 ms. */
  readonly busyTimeoutMs?: number;
  /** Rollback-journal sources only: the longest the copy may hold its read lock (and so block writers). Default 4 000 ms. */
  readonly maxReadLockMs?: number;
  /** Cancel the whole backup after this long; 0 means no deadline. Default 0. */
  readonly timeoutMs?: number;
  /** Pages per copy step of the backup-API engine (progress and cancellation granularity). Default: 8 MiB worth. */
  readonly stepPages?: number;
  /**
   * Which engine copies: 'auto' (default) the block copy (the file at `cp` speed plus the
   * snapshot's WAL frames) with the backup API whenever a precondition fails; 'block' only the
   * block copy (fails with the reason instead of falling back); 'backup-api' only the backup API.
   */
  readonly engine?: BackupEngine;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: BackupProgress) => void;
}

/** Defaults of every optional setting, in one place. */
export const BACKUP_DEFAULTS = Object.freeze({
  keep: 2,
  verify: 'quick' as VerifyMode,
  busyTimeoutMs: 10_000,
  maxReadLockMs: 4_000,
  timeoutMs: 0,
  stepPages: 0, // 0: computed from the page size
  engine: 'auto' as BackupEngine,
});

/** Options after validation and defaults. */
export type ResolvedBackupOptions = Required<Omit<BackupOptions, 'signal' | 'onProgress'>> &
  Pick<BackupOptions, 'signal' | 'onProgress'>;

const KNOWN = [
  'source',
  'target',
  'keep',
  'verify',
  'busyTimeoutMs',
  'maxReadLockMs',
  'timeoutMs',
  'stepPages',
  'engine',
  'signal',
  'onProgress',
];
const MAX_KEEP = 1000;

/** Validates options, applies defaults, validates again; every problem names the option. */
export function resolveBackupOptions(options: BackupOptions): ResolvedBackupOptions {
  if (options === null || typeof options !== 'object') throw invalid('options must be an object');
  for (const key of Object.keys(options)) {
    if (KNOWN.includes(key)) continue;
    const hint = KNOWN.find((k) => k.toLowerCase() === key.toLowerCase());
    throw invalid(hint ? `misspelled option "${key}" should be "${hint}"` : `unknown option "${key}"`);
  }
  if (typeof options.source !== 'string' || options.source.trim() === '')
    throw invalid('"source" must be a non-empty path');
  if (options.target !== undefined && (typeof options.target !== 'string' || options.target.trim() === '')) {
    throw invalid('"target" must be a non-empty path');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw invalid('"signal" must be an AbortSignal');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw invalid('"onProgress" must be a function');

  const resolved = {
    ...BACKUP_DEFAULTS,
    target: options.source,
    ...defined(options),
    source: options.source,
  };

  wholeNumber('keep', resolved.keep, 1, MAX_KEEP);
  if (!['quick', 'full', 'off'].includes(resolved.verify)) {
    throw invalid(`"verify" must be "quick", "full" or "off" (got ${JSON.stringify(resolved.verify)})`);
  }
  wholeNumber('busyTimeoutMs', resolved.busyTimeoutMs, 0, 3_600_000);
  wholeNumber('maxReadLockMs', resolved.maxReadLockMs, 1, 3_600_000);
  wholeNumber('timeoutMs', resolved.timeoutMs, 0, 86_400_000);
  wholeNumber('stepPages', resolved.stepPages, 0, 1 << 24);
  if (!BACKUP_ENGINES.includes(resolved.engine)) {
    throw invalid(
      `"engine" must be "auto", "block" or "backup-api" (got ${JSON.stringify(resolved.engine)})`,
    );
  }
  return Object.freeze(resolved);
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function wholeNumber(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`"${name}" must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
}

function invalid(message: string): BackupError {
  return new BackupError('ATS_BACKUP_INVALID', 'backup options', undefined, message);
}
