import { ms, ratio, sec, sizeName } from './format.js';
import type { RunRecord } from './report.js';

/** A short reading of the run's tables, in sentences built from its own figures. */
export function readingOf(run: RunRecord): string[] {
  const lines: string[] = [];
  const { cells } = run;
  const finishers = (load: string) => [...new Set(cells.filter((c) => c.load === load && c.status === 'finished').map((c) => c.contender))];
  const losers = (load: string) => [...new Set(cells.filter((c) => c.load === load && (c.status === 'did-not-finish' || c.status === 'skipped')).map((c) => c.contender))];
  for (const load of ['rate', 'full']) {
    const lost = losers(load);
    if (lost.length + finishers(load).length === 0) continue;
    lines.push(`- **Does it finish while the application writes?** Under the ${load === 'rate' ? `${run.opts.rate} commits/s` : 'full-speed'} writer: ${finishers(load).join(', ') || 'none'} finished; ${lost.join(', ') || 'none'} did not (each commit restarts a stepped copy that holds no snapshot, so it never reaches the last page).`);
  }
  for (const d of run.datasets) {
    const ours = cells.find((c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'ours-service' && c.run);
    const cp = cells.find((c) => c.sizeMb === d.sizeMb && c.load === 'none' && c.contender === 'cp' && c.run);
    if (ours?.run && cp?.run) {
      lines.push(`- **How long?** ${sizeName(d.sizeMb)} with no writer: our engine ${sec(ours.run.copyMs)} to a durable copy (+${sec(ours.run.verifyMs)} quick_check) against ${sec(cp.run.copyMs)} for cp+fsync, ${ratio(ours.run.copyMs / cp.run.copyMs)}.`);
    }
  }
  const oursWriter = cells.filter((c) => (c.contender === 'ours-service' || c.contender === 'ours-cli') && c.writer);
  if (oursWriter.length) {
    const worst = [...oursWriter].sort((a, b) => (b.writer!.during.p99Ms / b.writer!.baseline.p99Ms) - (a.writer!.during.p99Ms / a.writer!.baseline.p99Ms))[0]!;
    const worstAfter = Math.max(...oursWriter.map((c) => c.writer!.afterMaxMs).filter(Number.isFinite));
    lines.push(`- **Does it slow the application?** Writer p99 during our backups ranges up to ${ratio(worst.writer!.during.p99Ms / worst.writer!.baseline.p99Ms)} of the baseline (${sizeName(worst.sizeMb)}, ${worst.load}: ${ms(worst.writer!.during.p99Ms)} vs ${ms(worst.writer!.baseline.p99Ms)}); the slowest commit right after a backup took ${ms(worstAfter)}.`);
  }
  return lines;
}
