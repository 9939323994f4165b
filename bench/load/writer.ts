import fs from 'node:fs';
import { lastJsonLine, spawnChild } from '../child.js';
import { benchChild } from '../paths.js';

/** What a stopped writer recorded: each commit as (monotonic end time ms, latency ms). */
export interface WriterRecord {
  readonly samples: Float64Array;
  readonly commits: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

/** A running writer child. */
export interface Writer {
  readonly pid: number;
  stop(): Promise<WriterRecord>;
}

/** Starts the writer child on `db` ('full' speed or `rate` commits/s) and waits for its first commit. */
export async function startWriter(
  db: string,
  rate: number | 'full',
  samplesFile: string,
  autocheckpoint = 1000,
): Promise<Writer> {
  const child = spawnChild(process.execPath, [
    benchChild('load/writer-process.js'),
    '--db',
    db,
    '--rate',
    String(rate),
    '--out',
    samplesFile,
    '--autocheckpoint',
    String(autocheckpoint),
  ]);
  await child.waitForLine('ready', 30_000);
  return {
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      const { code, stdout, stderr } = await child.exited;
      const summary = lastJsonLine<{ commits: number; errors: number; firstError?: string }>(stdout);
      if (code !== 0 || !summary) throw new Error(`writer exited with ${code}: ${stderr.slice(-500)}`);
      const bytes = fs.readFileSync(samplesFile);
      fs.rmSync(samplesFile, { force: true });
      const samples = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice();
      return { samples, commits: summary.commits, errors: summary.errors, firstError: summary.firstError };
    },
  };
}
