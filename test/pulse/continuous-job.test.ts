// ContinuousJob's background maintenance: retention after each new snapshot and compaction once
// enough segments were uploaded, both off the sync loop. A real database written by its own
// connection, the real job and shipper, a real folder destination.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderStore, restoreContinuous } from '../../dist/backup/index.js';
import { ContinuousJob } from '../../dist/pulse/index.js';
import { idsIn, objectKeys, recordingLog } from '../continuous/primary.js';
import { removeDir, tempDir, waitFor } from '../helpers.js';

let dir: string;
afterEach(() => removeDir(dir));

describe('ContinuousJob maintenance', () => {
  it('compacts once enough segments were uploaded, and the newest position still restores', async () => {
    dir = tempDir('ats-cont-job-');
    const file = path.join(dir, 'db.sqlite');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const remote = path.join(dir, 'remote');
    const { log, lines } = recordingLog();
    const job = new ContinuousJob(
      {
        database: file,
        store: new FolderStore(remote),
        stagingDir: path.join(dir, 'staging'),
        syncIntervalMs: 20,
        snapshotIntervalMs: 0,
        retention: { keep: 1, keepDays: undefined },
        compaction: { minSegments: 4, maxTxids: 100 },
      },
      log,
    );
    try {
      await job.start();
      job.tick();
      for (let i = 1; i <= 12; i++) {
        db.prepare('INSERT INTO t (id, body) VALUES (?, ?)').run(i, `row ${i}`);
        const uploaded = (job.status()?.uploadedTxid ?? 0n) + 1n;
        await waitFor(
          () => (job.status()?.uploadedTxid ?? 0n) >= uploaded,
          10_000,
          `txid ${uploaded} uploaded`,
        );
      }
      await waitFor(
        () => lines.some((l) => (l as { event?: string }).event === 'continuous_compaction'),
        10_000,
        'a compaction pass',
      );
    } finally {
      await job.stop();
    }
    const segments = objectKeys(remote).filter((k) => k.endsWith('.seg'));
    expect(segments.length).toBeLessThan(12);
    const out = path.join(dir, 'out.db');
    await restoreContinuous({ store: new FolderStore(remote), database: out, verify: 'quick' });
    expect(idsIn(out)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    db.close();
  }, 60_000);
});
