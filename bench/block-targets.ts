import { ratio, sec, sizeName } from './format.js';
import type { CellResult } from './results.js';
import type { TargetCheck } from './targets.js';

/** The block engine's targets (issue 13), checked on this run's cells: ratios of medians, same run. */
export function checkBlockTargets(cells: readonly CellResult[]): TargetCheck[] {
  const block = cells.filter((c) => c.contender === 'ours-block' && !c.profile && c.status === 'finished');
  const cpOf = (c: CellResult) =>
    cells.find(
      (r) =>
        r.contender === 'cp' &&
        r.sizeMb === c.sizeMb &&
        r.load === c.load &&
        r.status === 'finished' &&
        !r.profile,
    );
  const copyTarget = (load: 'none' | 'full', limit: number, what: string): TargetCheck => {
    const pairs = block
      .filter((c) => c.load === load)
      .map((c) => ({ c, cp: cpOf(c) }))
      .filter((x) => x.cp?.run && x.c.run)
      .map((x) => ({ ...x, r: (x.c.run?.copyMs ?? NaN) / (x.cp?.run?.copyMs ?? NaN) }));
    return {
      target: `Block engine copy time ≤ ${limit}× cp+fsync ${what}, at every size`,
      met: pairs.length ? pairs.every((x) => x.r <= limit) : undefined,
      measured: pairs.length
        ? pairs
            .map(
              (x) =>
                `${sizeName(x.c.sizeMb)} ${sec(x.c.run?.copyMs)} vs ${sec(x.cp?.run?.copyMs)} = ${ratio(x.r)}`,
            )
            .join('; ')
        : 'no cell with both',
    };
  };
  const holds = block.filter((c) => c.run?.holdMs !== undefined);
  const p99 = block
    .filter((c) => c.writer)
    .map((c) => ({ c, r: (c.writer?.during.p99Ms ?? NaN) / (c.writer?.baseline.p99Ms ?? NaN) }))
    .filter((x) => Number.isFinite(x.r));
  return [
    copyTarget('none', 1.1, 'with no writer'),
    copyTarget('full', 1.3, 'under the full-speed writer'),
    {
      // The hold is from the pin to the end of the read transaction; the copy adds overlay and fsync.
      target: 'Block engine snapshot hold ≤ 1.3× cp+fsync of the same file',
      met: holds.length
        ? holds.every((c) => (c.run?.holdMs ?? NaN) <= 1.3 * (cpOf(c)?.run?.copyMs ?? NaN))
        : undefined,
      measured: holds.length
        ? holds
            .map(
              (c) =>
                `${sizeName(c.sizeMb)} ${c.load}: held ${sec(c.run?.holdMs)} vs cp ${sec(cpOf(c)?.run?.copyMs)}`,
            )
            .join('; ')
        : 'no block-engine cell',
    },
    {
      target: 'Writer p99 during a block-engine backup ≤ 1.1× without',
      met: p99.length ? p99.every((x) => x.r <= 1.1) : undefined,
      measured: p99.length
        ? p99.map((x) => `${sizeName(x.c.sizeMb)} ${x.c.load} ${ratio(x.r)}`).join('; ')
        : 'no writer cell',
    },
  ];
}
