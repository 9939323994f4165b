import { kbAsMb, ms, ratio, sec, sizeName } from './format.js';
import type { CellResult, ServiceResult } from './results.js';

/** One target of issue 4, checked against this run's figures. */
export interface TargetCheck {
  readonly target: string;
  /** undefined: this run has no figure for it (cell not run). */
  readonly met: boolean | undefined;
  readonly measured: string;
}

const OURS = ['ours-cli', 'ours-service'];

/** Checks every target on the cells of this run. */
export function checkTargets(
  cells: readonly CellResult[],
  services: readonly ServiceResult[],
  opts: { rate: number },
): TargetCheck[] {
  const ours = cells.filter((c) => OURS.includes(c.contender) && !c.profile);
  const checks: TargetCheck[] = [];

  const underFull = ours.filter((c) => c.load === 'full');
  const finished = underFull.filter((c) => c.status === 'finished');
  checks.push({
    target: 'Our engine finishes every time under a full-speed writer, at every size',
    met: underFull.length ? finished.length === underFull.length : undefined,
    measured: underFull.length
      ? `${finished.length} of ${underFull.length} runs finished (${[...new Set(underFull.map((c) => sizeName(c.sizeMb)))].join(', ')}; CLI and in-process)`
      : 'not run',
  });

  const copyRatios = ours
    .filter((c) => c.sizeMb === 1000 && c.load === 'none' && c.run)
    .map((c) => {
      const cp = cells.find(
        (r) => r.sizeMb === 1000 && r.load === 'none' && r.contender === 'cp' && r.status === 'finished',
      );
      return { c, r: cp?.run ? (c.run?.copyMs ?? NaN) / cp.run.copyMs : NaN, cp };
    })
    .filter((x) => Number.isFinite(x.r));
  const worstCopy = copyRatios.sort((a, b) => b.r - a.r)[0];
  checks.push({
    target: 'Copy time ≤ 2× cp+fsync of the same file (1 GB, no writer)',
    met: worstCopy ? worstCopy.r <= 2 : undefined,
    measured: worstCopy
      ? copyRatios
          .map((x) => `${x.c.contender} ${sec(x.c.run?.copyMs)} vs ${sec(x.cp?.run?.copyMs)} = ${ratio(x.r)}`)
          .join('; ')
      : 'no 1 GB idle cell with both',
  });

  const p99 = ours
    .filter((c) => c.writer && c.status === 'finished')
    .map((c) => ({ c, r: (c.writer?.during.p99Ms ?? NaN) / (c.writer?.baseline.p99Ms ?? NaN) }))
    .filter((x) => Number.isFinite(x.r))
    .sort((a, b) => b.r - a.r);
  checks.push({
    target: 'Writer p99 commit latency during a backup ≤ 1.2× without',
    met: p99.length ? (p99[0]?.r ?? Infinity) <= 1.2 : undefined,
    measured: p99.length
      ? `worst ${ratio(p99[0]?.r)} (${describe(p99[0]?.c, opts)}: ${ms(p99[0]?.c.writer?.during.p99Ms)} vs ${ms(p99[0]?.c.writer?.baseline.p99Ms)}); ` +
        `${p99.filter((x) => x.r <= 1.2).length} of ${p99.length} cells within`
      : 'no writer cell',
  });

  const svc = services.filter((s) => s.status === 'finished' && s.during);
  const worstSvc = [...svc].sort((a, b) => (b.during?.maxMs ?? 0) - (a.during?.maxMs ?? 0))[0];
  const fullMax = ours
    .filter((c) => c.load === 'full' && c.writer)
    .map((c) => Math.max(c.writer?.during.maxMs ?? 0, c.writer?.afterMaxMs ?? 0));
  checks.push({
    target: 'Writer max ≤ 50 ms at full speed in the service (checkpoint management included)',
    met: worstSvc ? (worstSvc.during?.maxMs ?? Infinity) <= 50 : undefined,
    measured:
      (worstSvc
        ? `service: slowest write request during a backup ${ms(worstSvc.during?.maxMs)} (${sizeName(worstSvc.sizeMb)}, ${worstSvc.httpRate} req/s)`
        : 'service case not run') +
      (fullMax.length
        ? `; bare full-speed writer process (SQLite's auto-checkpoint): worst max ${ms(Math.max(...fullMax))} during or just after a backup`
        : ''),
  });

  const eld = ours
    .filter((c) => c.contender === 'ours-service' && c.run?.eventLoop)
    .sort((a, b) => (b.run?.eventLoop?.p99Ms ?? 0) - (a.run?.eventLoop?.p99Ms ?? 0));
  const worstEld = eld[0];
  const svcLag = services
    .filter((s) => s.eventLoopDuring)
    .sort((a, b) => (b.eventLoopDuring?.p99Ms ?? 0) - (a.eventLoopDuring?.p99Ms ?? 0))[0];
  const eldValues = [worstEld?.run?.eventLoop?.p99Ms, svcLag?.eventLoopDuring?.p99Ms].filter(
    (v): v is number => v !== undefined,
  );
  checks.push({
    target: 'Event-loop delay p99 of the serving process during a backup ≤ 10 ms',
    met: eldValues.length ? Math.max(...eldValues) <= 10 : undefined,
    measured:
      [
        worstEld
          ? `engine alone in a Node process: worst p99 ${ms(worstEld.run?.eventLoop?.p99Ms)} (max ${ms(worstEld.run?.eventLoop?.maxMs)}; ${describe(worstEld, opts)})`
          : undefined,
        svcLag
          ? `the service under HTTP load: p99 ${ms(svcLag.eventLoopDuring?.p99Ms)} during a backup vs ${ms(svcLag.eventLoopWithout?.p99Ms)} without (${sizeName(svcLag.sizeMb)})`
          : undefined,
      ]
        .filter(Boolean)
        .join('; ') || 'not run',
  });

  const rss = ours
    .filter((c) => c.contender === 'ours-service' && c.sizeMb === 1000 && c.run?.rssGrowthKb !== undefined)
    .sort((a, b) => (b.run?.rssGrowthKb ?? 0) - (a.run?.rssGrowthKb ?? 0));
  checks.push({
    target: 'Peak RSS growth while backing up a 1 GB database ≤ 64 MB',
    met: rss[0] ? (rss[0].run?.rssGrowthKb ?? Infinity) <= 64 * 1024 : undefined,
    measured: rss[0]
      ? `worst +${kbAsMb(rss[0].run?.rssGrowthKb)} (${describe(rss[0], opts)}; peak ${kbAsMb(rss[0].run?.peakRssKb)})`
      : 'no 1 GB in-process cell',
  });
  return checks;
}

function describe(c: CellResult | undefined, opts: { rate: number }): string {
  if (!c) return '';
  const load =
    c.load === 'none' ? 'no writer' : c.load === 'rate' ? `${opts.rate} commits/s` : 'full-speed writer';
  return `${c.contender}, ${sizeName(c.sizeMb)}, ${load}`;
}
