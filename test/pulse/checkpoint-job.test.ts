import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointJob } from '../../dist/pulse/index.js';
import { tempDir, waitFor } from '../helpers.js';

let dir: string;
let job: CheckpointJob | undefined;
afterEach(async () => {
  await job?.stop();
  job = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A WAL database whose writer never checkpoints, with `megabytes` of WAL. */
function walDatabase(megabytes: number): { file: string; writer: Database.Database } {
  dir = tempDir();
  const file = path.join(dir, 'w.db');
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('wal_autocheckpoint = 0');
  writer.pragma('journal_size_limit = 1048576'); // as the store sets it (64 MiB there)
  writer.exec('CREATE TABLE t (body TEXT)');
  const insert = writer.prepare('INSERT INTO t VALUES (?)');
  for (let i = 0; i < megabytes * 10; i++)
    writer.transaction(() => {
      for (let j = 0; j < 20; j++) insert.run('z'.repeat(4000));
    })();
  return { file, writer };
}

describe('CheckpointJob', () => {
  it('checkpoints the whole WAL from its own connection; the next commit then trims the WAL file', async () => {
    const { file, writer } = walDatabase(20);
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(16 << 20);
    job = new CheckpointJob(file, pino({ level: 'silent' }));
    job.tick();
    await waitFor(() => job!.last !== undefined, 20_000, 'a checkpoint');
    expect(job.last!.walFrames).toBeGreaterThan(0);
    expect(job.last!.checkpointedFrames).toBe(job.last!.walFrames);
    writer.prepare('INSERT INTO t VALUES (?)').run('restarts the log');
    expect(fs.statSync(`${file}-wal`).size).toBeLessThanOrEqual(1 << 20);
    expect((writer.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(4001);
    writer.close();
  });

  it('copies only what no reader still needs, and never waits, while a reader holds an older snapshot (as a backup does)', async () => {
    const { file, writer } = walDatabase(1);
    const reader = new Database(file, { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get(); // snapshot taken here
    for (let i = 0; i < 200; i++)
      writer.prepare('INSERT INTO t VALUES (?)').run('after the snapshot '.repeat(200));
    job = new CheckpointJob(file, pino({ level: 'silent' }));
    job.tick();
    await waitFor(() => job!.last !== undefined, 20_000, 'a checkpoint');
    expect(job.last!.checkpointedFrames).toBeLessThan(job.last!.walFrames);
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(0);
    reader.exec('COMMIT');
    reader.close();
    writer.close();
  });
});
