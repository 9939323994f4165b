import fs from 'node:fs';
import { lastJsonLine } from '../child.js';
import { CLI } from '../paths.js';
import { runMeasured } from '../proc-stats.js';
import type { Contender, ContenderRun, RunContext } from './contender.js';

/** The fields of `ats backup --json` the bench reads. */
interface CliResult {
  readonly file: string;
  readonly durationMs: number;
  readonly holdMs?: number;
  /** The engine's own: pin to a durable, self-contained copy. */
  readonly copyMs?: number;
  readonly checksumMs?: number;
  readonly block?: { readonly bulkMs?: number };
  readonly engine?: string;
  readonly fallbackReason?: string;
  readonly busyRetries: number;
  readonly verify: { readonly ms: number; readonly ok: boolean };
}

/** `ats backup` exactly as a user runs it: a new Node process per backup, with one engine. */
export function oursCliWith(engine: 'backup-api' | 'block', id: string, label: string): Contender {
  return {
    id,
    label,
    description: `\`node dist/cli/main.js backup --db DB --out DIR --keep 1 --verify quick --engine ${engine} --json\`, a new process per backup; copy = its own durationMs without verify (worker start, the catalogue and rotation included); engine copy = its result's copyMs (pin to a durable, self-contained file); wall time = process start to exit, verification included.`,
    unavailable: () => (fs.existsSync(CLI) ? undefined : `${CLI} not built`),
    run: (ctx) => runCli(ctx, engine),
  };
}

/** The backup-API engine (the engine before the block copy). */
export const oursCli = oursCliWith('backup-api', 'ours-cli', 'ats backup, backup-API engine (CLI)');

async function runCli(ctx: RunContext, engine: string): Promise<ContenderRun> {
  {
    const run = await runMeasured(
      process.execPath,
      [
        CLI,
        ...['backup', '--db', ctx.source, '--out', ctx.outDir, '--keep', '1', '--verify', 'quick'],
        ...['--engine', engine, '--json'],
      ],
      ctx.capMs,
    );
    const wallMs = run.endedAt - run.startedAt;
    const result = run.code === 0 ? lastJsonOf<CliResult>(run.stdout) : undefined;
    if (!result) {
      return {
        finished: false,
        error: run.capped
          ? undefined
          : `exit ${run.code}: ${run.stderr.trim().split('\n').slice(-2).join(' | ')}`,
        startedAt: run.startedAt,
        endedAt: run.endedAt,
        copyMs: wallMs,
        wallMs,
        peakRssKb: run.peakRssKb,
      };
    }
    return {
      finished: true,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      copyMs: result.durationMs - result.verify.ms,
      holdMs: result.holdMs,
      engineCopyMs: result.copyMs,
      bulkMs: result.block?.bulkMs,
      checksumMs: result.checksumMs,
      engine: result.fallbackReason ? `${result.engine} (${result.fallbackReason})` : result.engine,
      verifyMs: result.verify.ms,
      wallMs,
      busyRetries: result.busyRetries,
      restarts: 0, // one held snapshot: a foreign commit cannot restart it
      peakRssKb: run.peakRssKb,
      output: result.file,
    };
  }
}

/** `--json` prints the result pretty-printed over several lines. */
function lastJsonOf<T>(stdout: string): T | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return lastJsonLine<T>(stdout);
  try {
    return JSON.parse(stdout.slice(start)) as T;
  } catch {
    return undefined;
  }
}
