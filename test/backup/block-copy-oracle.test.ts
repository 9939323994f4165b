import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { blockCopy } from '../../dist/backup/block-copy/block-engine.js';
import type { BlockCopyStats, CopyRequest } from '../../dist/backup/copy-request.js';
import { integrity, ROOT, removeDir, tempDir } from '../helpers.js';

// The oracle of the block engine (shared/design/block-copy.md): each trial pins a snapshot and
// block-copies it, and inside the same read transaction, on the same connection, takes a reference
// copy of that snapshot with SQLite's backup API. The two files must be identical byte for byte
// (on page 1 the backup API rewrites bytes 24-27, 40-43 and 92-95: masked) and the block copy must
// pass integrity_check, under each of three concurrent writers. The negative control skips the
// overlay: the oracle must then catch wrong copies, or it proves nothing.
// ATS_ORACLE_TRIALS (per writer, default 12) and ATS_ORACLE_MB (default 12) scale it into a soak.
const TRIALS = Number(process.env.ATS_ORACLE_TRIALS ?? 12);
const MEGABYTES = Number(process.env.ATS_ORACLE_MB ?? 12);
const CONTROL_TRIALS = 20;
/** Trials per writer with the WAL pages streamed (a memory budget of one page). */
const STREAM_TRIALS = Math.max(6, Math.round(TRIALS / 2));
/** A soak runs longer than the suite's default test timeout. */
const TIMEOUT_MS = Math.max(180_000, TRIALS * 12_000);

type Kind = 'inserts' | 'truncate' | 'vacuum';

let dir: string;
let writer: ChildProcess | undefined;
afterEach(async () => {
  if (writer && writer.exitCode === null) {
    const exited = new Promise((r) => writer?.once('exit', r));
    writer.kill('SIGTERM');
    await exited;
  }
  writer = undefined;
});
afterAll(() => removeDir(dir));

async function startOracleWriter(db: string, kind: Kind): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'test/fixtures/oracle-writer.mjs'), db, kind, String(MEGABYTES)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`oracle writer ${kind} exited early (${code})`)));
  });
  return child;
}

/** Bytes where the two copies differ, page 1's rewritten fields masked. */
function differences(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let diff = 0;
  const masked = (i: number): boolean => (i >= 24 && i < 28) || (i >= 40 && i < 44) || (i >= 92 && i < 96);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !masked(i)) diff++;
  return diff;
}

interface Trial {
  readonly identical: boolean;
  readonly integrity: string;
  readonly stats: BlockCopyStats;
}

/** One pinned snapshot, copied by the block engine and by the backup API inside the same hold. */
async function trial(db: string, n: number, skipOverlay = false, maxOverlayBytes?: number): Promise<Trial> {
  const tmp = path.join(dir, `copy-${n}.db`);
  const ref = path.join(dir, `ref-${n}.db`);
  fs.closeSync(fs.openSync(tmp, 'wx', 0o600));
  const src = new Database(db, { readonly: true, fileMustExist: true, timeout: 0 });
  const req: CopyRequest = {
    source: db,
    tmp,
    mode: 0o600,
    verify: 'off',
    busyTimeoutMs: 10_000,
    maxReadLockMs: 4_000,
    stepPages: 0,
    engine: 'block',
    ...(maxOverlayBytes === undefined ? {} : { maxOverlayBytes }),
  };
  try {
    const outcome = await blockCopy(
      src,
      req,
      { cancelled: () => false, progress: () => {} },
      {
        skipOverlay,
        whileHeld: async () => {
          await src.backup(ref); // the same connection, the same read transaction: the same snapshot
        },
      },
    );
    if (!('result' in outcome))
      throw new Error(`trial ${n}: the block engine fell back: ${outcome.fallback}`);
    const reference = fs.readFileSync(ref);
    reference[18] = 1; // both engines mark their copies self-contained (rollback-journal format)
    reference[19] = 1;
    const identical = differences(fs.readFileSync(tmp), reference) === 0;
    return { identical, integrity: integrity(tmp), stats: outcome.result.block as BlockCopyStats };
  } finally {
    src.close();
    fs.rmSync(tmp, { force: true });
    fs.rmSync(ref, { force: true });
  }
}

const counts = { trials: 0, markZero: 0, walReset: 0, checkpointDuringCopy: 0, overlaid: 0, fileAlone: 0 };
const streamCounts = { trials: 0, streamed: 0, fileAlone: 0, markZero: 0, walReset: 0 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the block-copy oracle: byte-identical to a backup-API copy of the same held snapshot', () => {
  it.each(['inserts', 'truncate', 'vacuum'] as const)(
    `${TRIALS} trials under the %s writer: identical, integrity ok`,
    async (kind) => {
      dir ??= tempDir();
      const db = path.join(dir, `${kind}.db`);
      writer = await startOracleWriter(db, kind);
      const mine = {
        trials: 0,
        markZero: 0,
        walReset: 0,
        checkpointDuringCopy: 0,
        overlaid: 0,
        fileAlone: 0,
      };
      // The truncate writer is there to put pins on read mark 0 and reset the WAL under them; if
      // its trials happened to miss that, it gets up to as many again until they do not.
      const topUp = (n: number): boolean =>
        kind === 'truncate' && n < 2 * TRIALS && (mine.markZero === 0 || mine.walReset === 0);
      for (let n = 0; n < TRIALS || topUp(n); n++) {
        await pause(20 + Math.random() * 60); // let the writer move between trials
        const t = await trial(db, n);
        expect(t.identical, `trial ${n} under ${kind}: ${JSON.stringify(t.stats)}`).toBe(true);
        expect(t.integrity).toBe('ok');
        mine.trials++;
        if (t.stats.markZero) mine.markZero++;
        if (t.stats.walReset) mine.walReset++;
        if (t.stats.checkpointDuringCopy) mine.checkpointDuringCopy++;
        if (t.stats.overlayPages > 0) mine.overlaid++;
        if (t.stats.fileAlone && t.stats.walFrames > 0) mine.fileAlone++; // frames valid, yet not needed
      }
      for (const key of Object.keys(counts) as (keyof typeof counts)[]) counts[key] += mine[key];
      process.stdout.write(`oracle ${kind}: ${JSON.stringify(mine)}\n`);
    },
    TIMEOUT_MS,
  );

  // The same oracle with a memory budget of one page: the snapshot's WAL pages are written from the
  // WAL while the snapshot is held (streamed), or, when every frame was already in the database
  // file at the pin, not at all (the file alone is the snapshot).
  it.each(['inserts', 'truncate', 'vacuum'] as const)(
    `${STREAM_TRIALS} trials under the %s writer, WAL pages streamed: identical, integrity ok`,
    async (kind) => {
      dir ??= tempDir();
      const db = path.join(dir, `stream-${kind}.db`);
      writer = await startOracleWriter(db, kind);
      const mine = { trials: 0, streamed: 0, fileAlone: 0, markZero: 0, walReset: 0 };
      for (let n = 0; n < STREAM_TRIALS; n++) {
        await pause(20 + Math.random() * 60);
        const t = await trial(db, 2000 + n, false, 4096);
        expect(t.identical, `streamed trial ${n} under ${kind}: ${JSON.stringify(t.stats)}`).toBe(true);
        expect(t.integrity).toBe('ok');
        mine.trials++;
        if (t.stats.streamedPages > 0) mine.streamed++;
        if (t.stats.fileAlone && t.stats.walFrames > 0) mine.fileAlone++; // frames valid, yet not needed
        if (t.stats.markZero) mine.markZero++;
        if (t.stats.walReset) mine.walReset++;
      }
      for (const key of Object.keys(streamCounts) as (keyof typeof streamCounts)[])
        streamCounts[key] += mine[key];
      process.stdout.write(`oracle streamed ${kind}: ${JSON.stringify(mine)}\n`);
    },
    TIMEOUT_MS,
  );

  it('covered the cases the method must get right (read mark 0, a WAL reset, a checkpoint writing the file during the copy)', () => {
    process.stdout.write(`oracle total: ${JSON.stringify(counts)}\n`);
    expect(counts.trials).toBeGreaterThanOrEqual(3 * TRIALS);
    expect(counts.markZero).toBeGreaterThan(0);
    expect(counts.walReset).toBeGreaterThan(0);
    expect(counts.checkpointDuringCopy).toBeGreaterThan(0);
    expect(counts.overlaid).toBeGreaterThan(0);
    process.stdout.write(`oracle streamed total: ${JSON.stringify(streamCounts)}\n`);
    expect(streamCounts.streamed).toBeGreaterThan(0);
    expect(counts.fileAlone + streamCounts.fileAlone).toBeGreaterThan(0);
  });

  it(
    `negative control: with the overlay skipped, the oracle catches wrong copies (${CONTROL_TRIALS} trials)`,
    async () => {
      dir ??= tempDir();
      const db = path.join(dir, 'control.db');
      writer = await startOracleWriter(db, 'inserts');
      let wrong = 0;
      for (let n = 0; n < CONTROL_TRIALS; n++) {
        await pause(20 + Math.random() * 60);
        const t = await trial(db, 1000 + n, true);
        if (!t.identical || t.integrity !== 'ok') wrong++;
      }
      process.stdout.write(`oracle negative control: ${wrong} of ${CONTROL_TRIALS} wrong\n`);
      expect(wrong).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );
});
