import { ratio, sec, sizeName } from './format.js';
import { median } from './metrics.js';
import type { CellResult } from './results.js';
import type { TargetCheck } from './targets.js';

/** Median of one figure over a cell's finished runs (undefined when no run has it). */
export function medianOf(
  c: CellResult,
  pick: (r: NonNullable<CellResult['runs']>[number]) => number | undefined,
): number | undefined {
  const values = (c.runs ?? [])
    .filter((r) => r.finished)
    .map(pick)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length === 0 ? undefined : median(values);
}

/**
 * The engine's own copy time of a cell of ours (pin to a durable, self-contained file; what issue
 * 13 calls copy time), median of its runs; for runs recorded before it existed, the median run's.
 */
export function engineCopyOf(c: CellResult): number | undefined {
  return medianOf(c, (r) => r.engineCopyMs) ?? c.run?.engineCopyMs;
}

/** The cp + fsync cell beside `c` (same size and load, same run). */
export function cpCellOf(cells: readonly CellResult[], c: CellResult): CellResult | undefined {
  return cells.find(
    (r) =>
      r.contender === 'cp' &&
      r.sizeMb === c.sizeMb &&
      r.load === c.load &&
      r.status === 'finished' &&
      !r.profile,
  );
}

/**
 * The cp + fsync time a cell of ours is judged against: the median of the copies timed beside its
 * runs when it has them (the disk's speed drifts between cells: one 1 GB cp + fsync took 0.55 s
 * and 3.15 s minutes apart), else the cp cell's.
 */
export function cpBesideOf(cells: readonly CellResult[], c: CellResult): number | undefined {
  return medianOf(c, (r) => r.pairedCpMs) ?? cpCellOf(cells, c)?.run?.copyMs;
}

/**
 * The block engine's copy time over the cp + fsync beside it: the median of the runs' own ratios
 * (each run against the cp timed next to it), which a drifting disk does not skew as it skews a
 * ratio of medians of 3; undefined for a cell without paired runs.
 */
export function pairedRatioOf(c: CellResult): number | undefined {
  return medianOf(c, (r) =>
    r.engineCopyMs !== undefined && r.pairedCpMs !== undefined ? r.engineCopyMs / r.pairedCpMs : undefined,
  );
}

/**
 * The block engine's targets (issue 13), checked on this run's cells: ratios of medians, same run
 * (copy time: the median of each run's ratio to the cp + fsync timed beside it, see pairedRatioOf).
 * Copy time is the engine's own (its result's copyMs: from the pin to a durable, self-contained
 * file, verification excluded), as the issue defines it; the CLI's whole run is reported beside it
 * in the detail tables, not judged here.
 */
export function checkBlockTargets(cells: readonly CellResult[]): TargetCheck[] {
  const block = cells.filter((c) => c.contender === 'ours-block' && !c.profile && c.status === 'finished');
  const copyTarget = (load: 'none' | 'full', limit: number, what: string): TargetCheck => {
    const pairs = block
      .filter((c) => c.load === load)
      .map((c) => ({ c, engine: engineCopyOf(c), cp: cpBesideOf(cells, c) }))
      .filter((x) => x.engine !== undefined && x.cp !== undefined)
      .map((x) => ({ ...x, r: pairedRatioOf(x.c) ?? (x.engine as number) / (x.cp as number) }));
    return {
      target: `Block engine copy time (its own, to a durable self-contained file) ≤ ${limit}× cp+fsync ${what}, at every size`,
      met: pairs.length ? pairs.every((x) => x.r <= limit) : undefined,
      measured: pairs.length
        ? pairs
            .map(
              (x) =>
                `${sizeName(x.c.sizeMb)} ${ratio(x.r)} (${howCpTimed(x.c)}: engine ${sec(x.engine)}, cp+fsync ${sec(x.cp)}; CLI run to a recorded copy ${sec(x.c.run?.copyMs)})${x.r > limit ? whereTimeWent(x.c) : ''}`,
            )
            .join('; ')
        : 'no cell with both',
    };
  };
  const holds = block
    .map((c) => ({ c, hold: medianOf(c, (r) => r.holdMs), bulk: medianOf(c, (r) => r.bulkMs) }))
    .filter((x) => x.hold !== undefined && x.bulk !== undefined);
  const p99 = block
    .filter((c) => c.writer)
    .map((c) => ({ c, r: (c.writer?.during.p99Ms ?? NaN) / (c.writer?.baseline.p99Ms ?? NaN) }))
    .filter((x) => Number.isFinite(x.r));
  return [
    copyTarget('none', 1.1, 'with no writer'),
    copyTarget('full', 1.3, 'under the full-speed writer'),
    {
      // The hold runs from the pin to the end of the read transaction; the bulk copy is inside it.
      target: "Block engine snapshot hold ≤ 1.3× the bulk copy's own time",
      met: holds.length ? holds.every((x) => (x.hold as number) <= 1.3 * (x.bulk as number)) : undefined,
      measured: holds.length
        ? holds
            .map(
              (x) =>
                `${sizeName(x.c.sizeMb)} ${x.c.load}: held ${sec(x.hold)}, bulk copy ${sec(x.bulk)} (${ratio((x.hold as number) / (x.bulk as number))}; cp+fsync ${sec(cpBesideOf(cells, x.c))})`,
            )
            .join('; ')
        : 'no block-engine cell',
    },
    {
      target: 'Writer p99 during a block-engine backup ≤ 1.1× without',
      met: p99.length ? p99.every((x) => x.r <= 1.1) : undefined,
      measured: p99.length
        ? p99
            .map((x) => {
              // The same writer while cp + fsync copies the same file: what writing a copy of this
              // size at the disk's speed costs the writer's commits, whoever writes it.
              const w = cpCellOf(cells, x.c)?.writer;
              const cp = w ? ratio(w.during.p99Ms / w.baseline.p99Ms) : '–';
              return `${sizeName(x.c.sizeMb)} ${x.c.load} ${ratio(x.r)} (during cp + fsync: ${cp})`;
            })
            .join('; ')
        : 'no writer cell',
    },
  ];
}

/** How a cell's cp + fsync figure was taken, for the target's sentence. */
function howCpTimed(c: CellResult): string {
  const paired = (c.runs ?? []).filter(
    (r) => r.finished && r.engineCopyMs !== undefined && r.pairedCpMs !== undefined,
  );
  if (paired.length === 0) return 'against the cp + fsync cell; medians';
  const each = paired.map((r) => ratio((r.engineCopyMs as number) / (r.pairedCpMs as number))).join(', ');
  return `median of ${paired.length} runs' ratios to a cp + fsync timed beside each (${each}); medians`;
}

/**
 * For a copy target missed: the engine's time split into the hold (pin, bulk copy, WAL read) and
 * what follows it (overlay of the snapshot's WAL pages, truncate, fsync), medians of the runs.
 */
function whereTimeWent(c: CellResult): string {
  const bulk = medianOf(c, (r) => r.bulkMs);
  const hold = medianOf(c, (r) => r.holdMs);
  const after = medianOf(c, (r) =>
    r.engineCopyMs !== undefined && r.holdMs !== undefined ? r.engineCopyMs - r.holdMs : undefined,
  );
  return `; missed by where the time goes: the bulk copy ${sec(bulk)} inside a hold of ${sec(hold)}, then ${sec(after)} of overlay and fsync after it`;
}
