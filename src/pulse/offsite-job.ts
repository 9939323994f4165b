import {
  BackupError,
  type BackupRecord,
  type Destination,
  type EncryptionKey,
  lineageOfFile,
  listRemoteBackups,
  type RetentionPolicy,
  readRemoteHeader,
  uploadBackup,
} from '../backup/index.js';
import type { Logger } from './logger.js';

/** One destination the service uploads to, ready to use (the key already loaded). */
export interface OffsiteTarget {
  readonly destination: Destination;
  readonly key: EncryptionKey | undefined;
  readonly retention: RetentionPolicy;
}

/** What happened at one destination, for /backups and /metrics. */
export interface DestinationStatus {
  readonly url: string;
  readonly description: string;
  readonly encrypted: boolean;
  readonly running: boolean;
  readonly uploads: number;
  readonly failures: number;
  /** Uploads skipped because the newest remote backup already holds the same bytes. */
  readonly skipped: number;
  readonly lastAttemptAt: string | undefined;
  readonly lastSuccessAt: string | undefined;
  /** Object name of the newest backup this process uploaded or found there. */
  readonly lastName: string | undefined;
  /** Stored bytes of the last upload. */
  readonly lastBytes: number | undefined;
  readonly lastDurationMs: number | undefined;
  readonly lastFailure: { readonly at: string; readonly code: string; readonly reason: string } | undefined;
}

interface State {
  readonly target: OffsiteTarget;
  status: DestinationStatus;
  /** SHA-256 of the newest remote backup; undefined until learned (one LIST after start). */
  newestSha256: string | undefined;
  learned: boolean;
  pending: { file: string; record: BackupRecord | undefined } | undefined;
  running: Promise<void> | undefined;
}

/**
 * Uploads each verified local backup to every destination, in the background: `enqueue` returns
 * at once, each destination works through its own queue of one (a newer backup replaces one not
 * yet started), and a failure is logged and counted, never thrown: the local backup it came from
 * is already safe. A backup with the same bytes as the newest remote one is not uploaded, so an
 * unchanged database costs no request at all (after one LIST and one header read at start).
 */
export class OffsiteJob {
  readonly #states: State[];
  readonly #log: Logger;
  readonly #shutdown = new AbortController();

  constructor(targets: readonly OffsiteTarget[], log: Logger) {
    this.#log = log;
    this.#states = targets.map((target) => ({
      target,
      status: Object.freeze({
        url: target.destination.info.url,
        description: target.destination.info.description,
        encrypted: target.key !== undefined,
        running: false,
        uploads: 0,
        failures: 0,
        skipped: 0,
        lastAttemptAt: undefined,
        lastSuccessAt: undefined,
        lastName: undefined,
        lastBytes: undefined,
        lastDurationMs: undefined,
        lastFailure: undefined,
      }),
      newestSha256: undefined,
      learned: false,
      pending: undefined,
      running: undefined,
    }));
  }

  /**
   * Queues the verified local backup `file` for every destination; its catalogue `record` gives
   * lineage, time and checksum (so an unchanged database costs not even a read of the file).
   */
  enqueue(file: string, record: BackupRecord | undefined): void {
    if (this.#shutdown.signal.aborted) return;
    for (const state of this.#states) {
      state.pending = { file, record };
      if (!state.running) state.running = this.#drain(state).finally(() => (state.running = undefined));
    }
  }

  /** Each destination's state, in config order. */
  status(): DestinationStatus[] {
    return this.#states.map((s) => s.status);
  }

  /** Waits for the uploads in flight (tests, shutdown after a last backup). */
  async idle(): Promise<void> {
    while (this.#states.some((s) => s.running)) await Promise.all(this.#states.map((s) => s.running));
  }

  /** Cancels uploads in flight (an interrupted upload leaves nothing visible) and waits for them. */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await Promise.all(this.#states.map((s) => s.running));
  }

  async #drain(state: State): Promise<void> {
    while (state.pending && !this.#shutdown.signal.aborted) {
      const job = state.pending;
      state.pending = undefined;
      await this.#upload(state, job.file, job.record);
    }
  }

  async #upload(state: State, file: string, record: BackupRecord | undefined): Promise<void> {
    const { destination, key, retention } = state.target;
    const url = destination.info.url;
    const signal = this.#shutdown.signal;
    const at = new Date().toISOString();
    this.#set(state, { running: true, lastAttemptAt: at });
    try {
      if (!state.learned) await this.#learnNewest(state, signal);
      const result = await uploadBackup({
        destination,
        file,
        lineage: record?.lineage ?? lineageOfFile(file),
        createdAt: record ? new Date(record.createdAt) : new Date(),
        known: record
          ? {
              bytes: record.bytes,
              sha256: record.checksum,
              pageSize: record.pageSize,
              pageCount: record.pages,
            }
          : undefined,
        key,
        retention,
        skipIfSha256: state.newestSha256,
        signal,
      });
      state.newestSha256 = result.plain.sha256;
      if (result.skipped) {
        this.#set(state, { running: false, skipped: state.status.skipped + 1, lastSuccessAt: at });
        this.#log.info(
          { event: 'offsite_skip', destination: url },
          'off-site upload skipped: nothing changed',
        );
        return;
      }
      this.#set(state, {
        running: false,
        uploads: state.status.uploads + 1,
        lastSuccessAt: new Date().toISOString(),
        lastName: result.name,
        lastBytes: result.storedBytes,
        lastDurationMs: result.durationMs,
      });
      this.#log.info(
        {
          event: 'offsite_upload',
          destination: url,
          name: result.name,
          bytes: result.plain.bytes,
          storedBytes: result.storedBytes,
          durationMs: result.durationMs,
          removed: result.retention?.removed.length ?? 0,
        },
        'off-site upload finished',
      );
      if (result.retentionProblem)
        this.#log.warn(
          { event: 'offsite_retention_fail', destination: url, reason: result.retentionProblem },
          'off-site retention failed (retried after the next upload)',
        );
    } catch (err) {
      const failure = {
        at: new Date().toISOString(),
        code: err instanceof BackupError ? err.code : 'ATS_BACKUP_REMOTE',
        reason: err instanceof Error ? err.message : String(err),
      };
      this.#set(state, { running: false, failures: state.status.failures + 1, lastFailure: failure });
      this.#log.error(
        { event: 'offsite_fail', destination: url, code: failure.code, reason: failure.reason },
        'off-site upload failed (the local backup is kept; the next backup tries again)',
      );
    }
  }

  /** One LIST and one header read after start: what the newest remote backup holds. */
  async #learnNewest(state: State, signal: AbortSignal): Promise<void> {
    const { destination } = state.target;
    const newest = (await listRemoteBackups(destination, signal)).at(-1);
    if (newest) {
      const header = await readRemoteHeader(destination, newest.name, signal);
      state.newestSha256 = header.sha256;
      this.#set(state, { lastName: newest.name });
    }
    state.learned = true;
  }

  #set(state: State, change: Partial<DestinationStatus>): void {
    state.status = Object.freeze({ ...state.status, ...change });
  }
}
