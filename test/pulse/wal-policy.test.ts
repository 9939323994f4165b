import { describe, expect, it } from 'vitest';
import type { CheckpointOutcome } from '../../dist/pulse/index.js';
import {
  HELD_TAIL_FRAMES,
  nextCheckpoint,
  RESTART_TAIL_FRAMES,
  type WalState,
} from '../../dist/pulse/wal-policy.js';

const MiB = 1 << 20;
const options = { journalSizeLimitBytes: 64 * MiB, maxWalBytes: 256 * MiB };
/** Frames of a 4 KiB-page log of `mib` MiB. */
const frames = (mib: number): number => Math.ceil((mib * MiB) / (4096 + 24));

function pass(
  walFrames: number,
  behind: number,
  mode: CheckpointOutcome['mode'] = 'PASSIVE',
): CheckpointOutcome {
  return { mode, busy: false, walFrames, checkpointedFrames: walFrames - behind, pageSize: 4096, ms: 1 };
}

function state(last: CheckpointOutcome | undefined, extra: Partial<WalState> = {}): WalState {
  return {
    walBytes: 0,
    last,
    refusing: false,
    pinned: false,
    sinceBlockedRestartMs: Number.POSITIVE_INFINITY,
    missedTails: 0,
    ...extra,
  };
}

describe('nextCheckpoint: when the restart step (writes held) comes', () => {
  it('never below the restart length: passes only', () => {
    expect(nextCheckpoint(options, state(pass(frames(31), 0)))).toBe('PASSIVE');
    expect(nextCheckpoint(options, state(pass(frames(33), 0)))).toBe('RESTART');
  });

  it('at once when a pass left a tail of a few pages: its held pass is about two fsyncs long', () => {
    expect(nextCheckpoint(options, state(pass(frames(40), HELD_TAIL_FRAMES)))).toBe('RESTART');
  });

  it('not while back-to-back passes still shorten a longer tail: the next pass leaves less to hold writes for', () => {
    const s = state(pass(frames(40), 500), { previousBehind: 2000 });
    expect(nextCheckpoint(options, s)).toBe('PASSIVE');
  });

  it('once passes stop shortening the tail (as much is written during a pass as it copies), up to the 4 MiB tail', () => {
    expect(nextCheckpoint(options, state(pass(frames(40), 500), { previousBehind: 520 }))).toBe('RESTART');
    expect(
      nextCheckpoint(options, state(pass(frames(40), RESTART_TAIL_FRAMES), { previousBehind: 1000 })),
    ).toBe('RESTART');
    const long = state(pass(frames(40), RESTART_TAIL_FRAMES + 1), { previousBehind: RESTART_TAIL_FRAMES });
    expect(nextCheckpoint(options, long)).toBe('PASSIVE');
  });

  it('a pass first after a restart step, to learn the new length of the log (no second hold for nothing)', () => {
    expect(nextCheckpoint(options, state(pass(frames(40), 0, 'RESTART')))).toBe('PASSIVE');
  });

  it('never while a known reader pins the WAL or just after a blocked restart; TRUNCATE while writes are refused', () => {
    const caughtUp = pass(frames(40), 0);
    expect(nextCheckpoint(options, state(caughtUp, { pinned: true }))).toBe('PASSIVE');
    expect(nextCheckpoint(options, state(caughtUp, { sinceBlockedRestartMs: 10 }))).toBe('PASSIVE');
    expect(nextCheckpoint(options, state(caughtUp, { refusing: true }))).toBe('TRUNCATE');
  });

  it('restarts at a configured length instead of half the journal_size_limit', () => {
    const later = { ...options, restartAtBytes: 64 * MiB };
    expect(nextCheckpoint(later, state(pass(frames(40), 0)))).toBe('PASSIVE');
    expect(nextCheckpoint(later, state(pass(frames(65), 0)))).toBe('RESTART');
  });
});
