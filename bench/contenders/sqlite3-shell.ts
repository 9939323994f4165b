import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fsyncFile, runMeasured } from '../proc-stats.js';
import type { Contender, ContenderRun } from './contender.js';

const SHELL = '/usr/bin/sqlite3';

/** The sqlite3 shell's version line, or undefined when it is not installed. */
export function sqlite3ShellVersion(): string | undefined {
  if (!fs.existsSync(SHELL)) return undefined;
  try {
    return execFileSync(SHELL, ['--version'], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
  } catch {
    return undefined;
  }
}

/** The sqlite3 command-line shell's `.backup` (100-page steps, no sleep between them). */
export const sqlite3Shell: Contender = {
  id: 'shell',
  label: 'sqlite3 shell .backup',
  description:
    '`/usr/bin/sqlite3 -readonly DB ".backup OUT"` (the shell steps 100 pages at a time with no read transaction held across steps), then fsync of OUT by the bench.',
  unavailable: () =>
    sqlite3ShellVersion() ? undefined : `${SHELL} is not installed (apt-get install sqlite3)`,
  async run(ctx): Promise<ContenderRun> {
    const out = path.join(ctx.outDir, 'shell-backup.db');
    const run = await runMeasured(
      SHELL,
      ['-readonly', ctx.source, `.backup '${out.replaceAll("'", "''")}'`],
      ctx.capMs,
    );
    const ok = !run.capped && run.code === 0 && fs.existsSync(out);
    const fsyncMs = ok ? fsyncFile(out) : 0;
    const copyMs = run.endedAt - run.startedAt + fsyncMs;
    return {
      finished: ok,
      error: ok || run.capped ? undefined : `exit ${run.code}: ${run.stderr.trim().slice(-300)}`,
      startedAt: run.startedAt,
      endedAt: run.endedAt + fsyncMs,
      copyMs,
      wallMs: copyMs,
      peakRssKb: run.peakRssKb,
      output: ok ? out : undefined,
    };
  },
};
