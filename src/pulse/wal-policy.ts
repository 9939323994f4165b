import type { CheckpointMode, CheckpointOutcome } from './checkpoint-runner.js';

/** The WAL policy's settings. */
export interface WalPolicyOptions {
  /** The store's journal_size_limit: the WAL file is cut back to this on a restart. */
  readonly journalSizeLimitBytes: number;
  /** Past this WAL file size writes are refused (backpressure) until it is checkpointed. */
  readonly maxWalBytes: number;
}

/** Frames a pass may leave behind for the restart step to copy while writes are held (4 MiB). */
export const RESTART_TAIL_FRAMES = 1024;
/**
 * When passes keep ending past the tail (large commits, a slow disk: each pass takes long enough
 * for more than the tail to be written meanwhile), after this many in a row the restart step takes
 * a tail of up to 4x RESTART_TAIL_FRAMES (16 MiB) rather than never coming.
 */
export const MISSED_TAILS_BEFORE_WIDER = 3;
/** After a restart that a reader blocked, wait this long before trying again. */
export const RESTART_RETRY_MS = 500;

/** What the policy knows when it chooses the next step. */
export interface WalState {
  /** Size of the -wal file now. */
  readonly walBytes: number;
  /** The last checkpoint's outcome, if any. */
  readonly last: CheckpointOutcome | undefined;
  /** Writes are refused now (the WAL is over its cap). */
  readonly refusing: boolean;
  /** A reader we know of holds an old snapshot (a backup): the WAL cannot restart until it ends. */
  readonly pinned: boolean;
  /** ms since the last restart step that a reader blocked (Infinity if none). */
  readonly sinceBlockedRestartMs: number;
  /** Passes in a row, past half the limit, that ended with more than the tail behind. */
  readonly missedTails: number;
}

/**
 * The checkpoint step to run next. The bulk of the WAL is always copied by PASSIVE passes, which
 * never take the write lock; once a pass has left only a small tail and the log is past half the
 * journal_size_limit, the next step RESTARTs it (writes held meanwhile, a few ms); over the cap it
 * TRUNCATEs instead, because no commit comes to cut the file back while writes are refused.
 */
export function nextCheckpoint(options: WalPolicyOptions, state: WalState): CheckpointMode {
  const { last } = state;
  if (last === undefined || state.pinned || state.sinceBlockedRestartMs < RESTART_RETRY_MS) return 'PASSIVE';
  const behind = last.walFrames - last.checkpointedFrames;
  const tail = state.missedTails >= MISSED_TAILS_BEFORE_WIDER ? 4 * RESTART_TAIL_FRAMES : RESTART_TAIL_FRAMES;
  if (last.walFrames < 0 || behind > tail) return 'PASSIVE';
  if (state.refusing) return 'TRUNCATE';
  const logBytes = last.walFrames * (last.pageSize + 24);
  return logBytes >= options.journalSizeLimitBytes / 2 ? 'RESTART' : 'PASSIVE';
}
