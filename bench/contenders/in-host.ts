import { lastJsonLine, spawnChild } from '../child.js';
import { nowMs } from '../clock.js';
import { benchChild } from '../paths.js';
import type { ContenderRun, RunContext } from './contender.js';

/** Extra time the host gets past the cap to stop by itself before it is killed. */
const KILL_GRACE_MS = 5_000;

/**
 * Runs the in-node job `job` in a fresh contender host process (`host/contender-host.js`), which
 * measures its own event-loop delay and memory, and turns its report into a {@link ContenderRun}.
 */
export async function runInHost(job: string, ctx: RunContext): Promise<ContenderRun> {
  const spawnedAt = nowMs();
  const child = spawnChild(process.execPath, [
    benchChild('host/contender-host.js'),
    '--job',
    job,
    '--source',
    ctx.source,
    '--out-dir',
    ctx.outDir,
    '--cap-ms',
    String(ctx.capMs),
  ]);
  let killed = false;
  const killer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, ctx.capMs + KILL_GRACE_MS);
  try {
    const { code, stdout, stderr } = await child.exited;
    const report = lastJsonLine<ContenderRun>(stdout);
    if (report) return { ...report, wallMs: nowMs() - spawnedAt };
    const endedAt = nowMs();
    return {
      finished: false,
      error: killed
        ? undefined
        : `host exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
      startedAt: spawnedAt,
      endedAt,
      copyMs: endedAt - spawnedAt,
      wallMs: endedAt - spawnedAt,
    };
  } finally {
    clearTimeout(killer);
  }
}
