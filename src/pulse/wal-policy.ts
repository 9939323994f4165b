import type { CheckpointMode, CheckpointOutcome } from './checkpoint-runner.js';

/** The WAL policy's settings. */
export interface WalPolicyOptions {
  /** The store's journal_size_limit: the WAL file is cut back to this on a restart. */
  readonly journalSizeLimitBytes: number;
  /** Past this WAL file size writes are refused (backpressure) until it is checkpointed. */
  readonly maxWalBytes: number;
  /**
   * The log is restarted once it is this long (default half the journal_size_limit). Each restart
   * holds writes for one short pass, so a longer log means fewer holds and a bigger file.
   */
  readonly restartAtBytes?: number | undefined;
}

/**
 * A tail the restart step copies at once: its pass, run while writes are held, is then about two
 * fsyncs long (256 KiB of pages and the WAL's last frames).
 */
export const HELD_TAIL_FRAMES = 64;
/**
 * The most a pass may leave behind for the restart step (4 MiB): taken only once passes run back
 * to back have stopped shrinking the tail (each pass lasts long enough for that many frames to be
 * written meanwhile), since copying it costs a longer hold.
 */
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
  /** Frames the step before `last` left behind (undefined: none yet). */
  readonly previousBehind?: number | undefined;
  /** Writes are refused now (the WAL is over its cap). */
  readonly refusing: boolean;
  /** A reader we know of holds an old snapshot (a backup): the WAL cannot restart until it ends. */
  readonly pinned: boolean;
  /** ms since the last restart step that a reader blocked or that outlived its hold (Infinity if none). */
  readonly sinceBlockedRestartMs: number;
  /** Passes in a row, past half the limit, that ended with more than the tail behind. */
  readonly missedTails: number;
}

/** The log length from which the restart step runs. */
export function restartAt(options: WalPolicyOptions): number {
  return options.restartAtBytes ?? options.journalSizeLimitBytes / 2;
}

/** The log's length in bytes as a checkpoint saw it: its frames, each a page and a 24-byte header. */
export function logBytes(outcome: CheckpointOutcome): number {
  return outcome.walFrames * (outcome.pageSize + 24);
}

/**
 * The checkpoint step to run next. The bulk of the WAL is always copied by PASSIVE passes, which
 * never take the write lock; past `restartAt` passes run back to back, each leaving a shorter tail
 * (the next one copies only what was written during it). Once a pass has left a tail of a few
 * pages, or passes no longer shorten it, the next step RESTARTs the log: one more pass while the
 * store holds new writes, which copies everything, so the next commit starts the log again. Over
 * the cap it TRUNCATEs instead, because no commit comes to cut the file back while writes are refused.
 */
export function nextCheckpoint(options: WalPolicyOptions, state: WalState): CheckpointMode {
  const { last } = state;
  if (last === undefined || state.pinned || state.sinceBlockedRestartMs < RESTART_RETRY_MS) return 'PASSIVE';
  // After a restart or truncate step, a pass first: it learns the log's new length (a restart step
  // reports the length it copied, which the next commit has just started again from 0).
  if (last.mode !== 'PASSIVE') return 'PASSIVE';
  const behind = last.walFrames - last.checkpointedFrames;
  const tail = state.missedTails >= MISSED_TAILS_BEFORE_WIDER ? 4 * RESTART_TAIL_FRAMES : RESTART_TAIL_FRAMES;
  if (last.walFrames < 0 || behind > tail) return 'PASSIVE';
  if (state.refusing) return 'TRUNCATE';
  if (logBytes(last) < restartAt(options)) return 'PASSIVE';
  // Converged: the last pass took back less than a quarter of the tail the one before it left.
  const converged = state.previousBehind !== undefined && 4 * behind > 3 * state.previousBehind;
  return behind <= HELD_TAIL_FRAMES || converged ? 'RESTART' : 'PASSIVE';
}
