import { cpBesideOf, engineCopyOf, medianOf } from './block-targets.js';
import { int, loadName, mb, ms, ratio, sec, sizeName } from './format.js';
import type { RunRecord } from './report.js';
import type { CellResult } from './results.js';

const OURS = ['ours-cli', 'ours-service'];

/** Where the hand-won profiling findings live: dated, hand-written, not recomputed by a run. */
export const PROFILING_NOTE = 'docs/notes/2026-11-24-backup-profiling.md';

/**
 * A short reading of the run's tables: every figure in these sentences is computed from this run.
 * Findings from earlier profiling (syscall counts, variants measured once) are not restated here:
 * they live in the dated note PROFILING_NOTE, which the report links.
 */
export function readingOf(run: RunRecord): string[] {
  const { cells, services, opts } = run;
  const lines: string[] = [];
  const by = (pred: (c: CellResult) => boolean) => cells.filter(pred);
  const names = (list: readonly CellResult[]) =>
    [...new Set(list.map((c) => c.contender))].join(', ') || 'none';

  // 1. Does it finish?
  for (const load of ['rate', 'full'] as const) {
    const done = by((c) => c.load === load && c.status === 'finished' && !c.profile);
    const lost = by((c) => c.load === load && c.status === 'did-not-finish');
    const skipped = by(
      (c) => c.load === load && c.status === 'skipped' && !lost.some((l) => l.contender === c.contender),
    );
    if (done.length + lost.length + skipped.length === 0) continue;
    const restarts = lost
      .filter((c) => c.run?.restarts)
      .map(
        (c) =>
          `${c.contender} ${int(c.run?.restarts)} restarts in ${sec(c.run?.copyMs)} at ${sizeName(c.sizeMb)}`,
      );
    lines.push(
      `- **Does it finish while the application writes?** Under the ${load === 'rate' ? `${opts.rate} commits/s writer` : 'full-speed writer'}: ${names(done)} finished every time${lost.length ? `; ${names(lost)} did not finish within the cap${restarts.length ? ` (${restarts.join('; ')})` : ''}` : ''}${skipped.length ? `; ${names(skipped)} were not run here, having failed under a lighter or smaller cell` : ''}. A stepped copy that holds no read transaction starts over from page 1 whenever another connection commits between two steps, so a steady writer keeps it from ever reaching the last page; ours and VACUUM INTO read one snapshot, cp reads no snapshot at all.`,
    );
  }
  const torn = by((c) => c.contender === 'cp' && c.check !== undefined && !c.check.ok);
  if (torn.length)
    lines.push(
      `- **cp is not a backup:** its copy failed \`integrity_check\` in ${torn.length} of ${by((c) => c.contender === 'cp' && c.check !== undefined).length} cells (${torn.map((c) => `${sizeName(c.sizeMb)}, ${c.load}`).join('; ')}): it copies the main file while the writer's checkpoints change it, and leaves out what is still in the WAL.`,
    );

  // 2. How long?
  for (const d of run.datasets) {
    const ours = cells.find(
      (c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'ours-service' && c.run,
    );
    const cp = cells.find((c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'cp' && c.run);
    const vac = cells.find(
      (c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'vacuum' && c.run,
    );
    if (ours?.run && cp?.run) {
      lines.push(
        `- **How long, ${sizeName(d.sizeMb)}:** our engine reaches a durable copy in ${sec(ours.run.copyMs)} (then ${sec(ours.run.verifyMs)} of quick_check) against ${sec(cp.run.copyMs)} for cp+fsync: ${ratio(ours.run.copyMs / cp.run.copyMs)}${vac?.run ? `; VACUUM INTO takes ${sec(vac.run.copyMs)} and blocks its thread throughout (event loop max ${ms(vac.run.eventLoop?.maxMs)})` : ''}.`,
      );
    }
  }

  for (const d of run.datasets) {
    const parts = (['none', 'full'] as const).flatMap((load) => {
      const c = cells.find(
        (x) =>
          x.sizeMb === d.sizeMb && x.load === load && x.contender === 'ours-block' && x.status === 'finished',
      );
      const engine = c ? engineCopyOf(c) : undefined;
      const cp = c ? cpBesideOf(cells, c) : undefined;
      if (!c || engine === undefined || cp === undefined) return [];
      return [
        `${loadName(load, opts)}: ${sec(engine)} against ${sec(cp)} for cp+fsync (${ratio(engine / cp)}), snapshot held ${sec(medianOf(c, (r) => r.holdMs))} of which the bulk copy ${sec(medianOf(c, (r) => r.bulkMs))}; the whole CLI run ${sec(medianOf(c, (r) => r.wallMs))} with its quick_check`,
      ];
    });
    if (parts.length)
      lines.push(
        `- **The block engine's own copy time, ${sizeName(d.sizeMb)}** (pin to a durable, self-contained file, the catalogue's sha256 hashed beside the fsync): ${parts.join('; ')}.`,
      );
  }

  const slowCopy = run.datasets
    .map((d) => ({
      d,
      ours: cells.find(
        (c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'ours-service' && c.run,
      ),
      cp: cells.find((c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'cp' && c.run),
    }))
    .find((x) => x.d.sizeMb >= 1000 && x.ours?.run && x.cp?.run && x.ours.run.copyMs > 2 * x.cp.run.copyMs);
  if (slowCopy) {
    const cpRuns = (slowCopy.cp?.runs ?? []).map((r) => r.copyMs);
    const spread =
      cpRuns.length > 1
        ? `${sec(Math.min(...cpRuns))}–${sec(Math.max(...cpRuns))} for the same file in this run's three repeats`
        : 'from run to run';
    lines.push(
      `- **Why the copy is over 2× cp+fsync at ${sizeName(slowCopy.d.sizeMb)}:** ${ratio(slowCopy.ours!.run!.copyMs / slowCopy.cp!.run!.copyMs)} in this run; cp's own time for the same file was ${spread}. Why the backup API is slower than cp: [profiling note](${PROFILING_NOTE}).`,
    );
  }

  // 3. Does it slow the application down?
  const oursWriter = by(
    (c) => OURS.includes(c.contender) && c.writer !== undefined && c.status === 'finished' && !c.profile,
  );
  if (oursWriter.length) {
    const p99 = oursWriter
      .map((c) => ({ c, r: c.writer!.during.p99Ms / c.writer!.baseline.p99Ms }))
      .sort((a, b) => b.r - a.r);
    const within = p99.filter((x) => x.r <= 1.2).length;
    lines.push(
      `- **Does it slow the writer?** Commit p99 during our backups is within 1.2× of the baseline in ${within} of ${p99.length} cells; the worst is ${ratio(p99[0]?.r)} (${p99[0]?.c.contender}, ${sizeName(p99[0]?.c.sizeMb ?? 0)}, ${loadName(p99[0]?.c.load ?? 'rate', opts)}: ${ms(p99[0]?.c.writer?.during.p99Ms)} vs ${ms(p99[0]?.c.writer?.baseline.p99Ms)}). Throughput is unchanged within noise (commits/s columns). Under the full-speed writer p99 is often *lower* during a backup: while the snapshot is held the writer's inline checkpoints have nothing they may copy, so no commit pays for one.`,
    );
  }
  for (const prof of by((c) => c.profile !== undefined && c.writer !== undefined)) {
    const plain = cells.find(
      (c) =>
        !c.profile &&
        c.contender === prof.contender &&
        c.sizeMb === prof.sizeMb &&
        c.load === prof.load &&
        c.writer,
    );
    if (!plain) continue;
    const w = plain.writer!;
    const p = prof.writer!;
    lines.push(
      `- **Profiled, ${sizeName(prof.sizeMb)}, ${loadName(prof.load, opts)}:** the same cell with a writer that never checkpoints inside a commit (wal_autocheckpoint=0, as \`ats serve\` runs its store) gives p99 ${ms(p.during.p99Ms)} during vs ${ms(p.baseline.p99Ms)} without (${ratio(p.during.p99Ms / p.baseline.p99Ms)}) and max ${ms(p.during.maxMs)} vs ${ms(p.baseline.maxMs)}, against p99 ${ms(w.during.p99Ms)} vs ${ms(w.baseline.p99Ms)} and max ${ms(w.during.maxMs)} vs ${ms(w.baseline.maxMs)} with SQLite's default. The difference between the two is the writer's own inline checkpoints ([profiling note](${PROFILING_NOTE})).`,
    );
  }
  const spikes = by(
    (c) =>
      !c.profile &&
      c.load === 'full' &&
      c.writer !== undefined &&
      (c.contender === 'ours-service' || c.contender === 'ours-cli' || c.contender === 'vacuum') &&
      c.status === 'finished',
  ).sort((a, b) => b.writer!.during.maxMs - a.writer!.during.maxMs);
  const worst = spikes[0];
  if (worst && worst.writer!.during.maxMs > 50) {
    lines.push(
      `- **Why the writer's slowest commit is slow:** at full speed the worst single commit during a backup took ${ms(worst.writer!.during.maxMs)} (${worst.contender}, ${sizeName(worst.sizeMb)}; baseline max ${ms(worst.writer!.baseline.maxMs)}). WAL peaks and slowest commits in this run: ${spikes.map((c) => `${c.contender} ${sizeName(c.sizeMb)} ${mb(c.walPeakBytes)} → ${ms(c.writer!.during.maxMs)}`).join('; ')}: the larger the WAL a held snapshot let grow, the slower the writer's first inline checkpoint after it ([profiling note](${PROFILING_NOTE})); compare the profiled cells, whose writer never checkpoints inline, and the service below.`,
    );
  }

  // 4. The service.
  for (const s of services.filter((x) => x.status === 'finished' && x.during && x.baseline)) {
    lines.push(
      `- **The service, ${sizeName(s.sizeMb)}, ${s.httpRate} writes/s:** HTTP p99 ${ms(s.during?.p99Ms)} during its ticker's backups vs ${ms(s.baseline?.p99Ms)} without; slowest request ${ms(s.during?.maxMs)} vs ${ms(s.baseline?.maxMs)}; its event-loop delay p99 ${ms(s.eventLoopDuring?.p99Ms)} vs ${ms(s.eventLoopWithout?.p99Ms)} (max ${ms(s.eventLoopDuring?.maxMs)} vs ${ms(s.eventLoopWithout?.maxMs)}).`,
    );
  }
  return lines;
}
