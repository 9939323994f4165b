import fs from 'node:fs';
import path from 'node:path';
import { runMeasured } from '../proc-stats.js';
import type { Contender, ContenderRun } from './contender.js';

/**
 * `cp` of the database file then `sync FILE` (fsync): the physical lower bound of any copy. It is
 * not a backup method: it ignores the WAL and locks, so its copy may be stale or torn.
 */
export const cpFsync: Contender = {
  id: 'cp',
  label: 'cp + fsync (lower bound, not consistent)',
  description:
    '`cp DB OUT && sync OUT`: the main database file only, no locks, no WAL; the physical lower bound, reported with its integrity_check.',
  unavailable: () => undefined,
  async run(ctx): Promise<ContenderRun> {
    const out = path.join(ctx.outDir, 'cp-copy.db');
    const copy = await runMeasured('cp', ['--sparse=never', ctx.source, out], ctx.capMs);
    const sync =
      copy.code === 0 && !copy.capped
        ? await runMeasured('sync', [out], Math.max(1, ctx.capMs - (copy.endedAt - copy.startedAt)))
        : undefined;
    const ok = sync !== undefined && sync.code === 0 && !sync.capped && fs.existsSync(out);
    const endedAt = sync?.endedAt ?? copy.endedAt;
    const capped = copy.capped || (sync?.capped ?? false);
    return {
      finished: ok,
      error:
        ok || capped
          ? undefined
          : `cp/sync failed: ${copy.stderr.trim()} ${sync?.stderr.trim() ?? ''}`.trim(),
      startedAt: copy.startedAt,
      endedAt,
      copyMs: endedAt - copy.startedAt,
      wallMs: endedAt - copy.startedAt,
      restarts: 0,
      peakRssKb: Math.max(copy.peakRssKb ?? 0, sync?.peakRssKb ?? 0) || undefined,
      output: ok ? out : undefined,
    };
  },
};
