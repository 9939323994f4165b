// The report of the "sustained load" section: a table and, side by side for each case, the
// requests' latency and the WAL's size over time (plain SVG).
import fs from 'node:fs';
import path from 'node:path';
import { ms, table } from '../format.js';
import type { SustainedResult, SustainedRow } from './sustained.js';

const PLOT_FILE = path.join('docs', 'bench-sustained.svg');
const MiB = 2 ** 20;

/** The section's Markdown and the files it wrote (the plot); nothing when the section did not run. */
export function sustainedReport(
  result: SustainedResult | undefined,
  root: string,
): { markdown: string; files: string[] } {
  if (result === undefined || result.rows.length === 0) return { markdown: '', files: [] };
  fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(root, PLOT_FILE), plot(result));
  const limit = result.journalSizeLimitBytes;
  const out: string[] = [
    '',
    '## Sustained load: `ats serve` with backups every 10 s',
    '',
    `Each load runs ${result.seconds} s against a fresh copy of the ${result.sizeMb} MB service database (one process; HTTP over loopback with keep-alive, from a separate load process). Fixed rates are open loop (one attestation per request); "flat out" clients send their next request as soon as the previous is answered. Latency counts 201s only, and leaves out the first 3 s of each load (a fresh process warming up; the plot shows them). "held off" is the same rate for ${result.baselineSeconds} s right after, with checkpoints held off (a reader pins the WAL, so no checkpoint copies or restarts anything): the baseline the p99 target is judged against. Targets: WAL peak <= 4 x journal_size_limit (${(4 * limit) / MiB} MiB); p99 <= 1.5 x held off; max <= 50 ms at 1,000 req/s.`,
    '',
    table(
      [
        'load',
        'req/s',
        'attestations/s',
        'p50',
        'p99',
        'max',
        'p99 held off',
        'p99 ratio',
        'WAL peak',
        'WAL end',
        'db',
        'loop p99 / max',
        'checkpoints (done/busy/failed)',
        'WAL restarts',
        'writes held: times, mean',
        '503s',
        'writes paused: times, total',
        'backups',
      ],
      result.rows.map((r) => row(r, limit)),
    ),
    ...targetSentences(result),
    ...referenceSentence(result),
    '',
    `![Latency and WAL size over time, per load](${PLOT_FILE.split(path.sep).join('/')})`,
    '',
  ];
  return { markdown: out.join('\n'), files: [PLOT_FILE] };
}

function row(r: SustainedRow, limit: number): string[] {
  const p99 = r.latency?.p99Ms;
  const held = r.baseline?.latency?.p99Ms;
  const steps = (mode: string): string =>
    `${r.checkpoints[`${mode} done`] ?? 0}/${r.checkpoints[`${mode} busy`] ?? 0}/${r.checkpoints[`${mode} failed`] ?? 0}`;
  const peakMiB = r.walPeakBytes / MiB;
  return [
    r.name,
    r.requestsPerS.toFixed(0),
    r.attestationsPerS.toFixed(0),
    ms(r.latency?.p50Ms),
    ms(p99),
    ms(r.latency?.maxMs),
    ms(held),
    p99 !== undefined && held !== undefined && held > 0 ? `${(p99 / held).toFixed(2)}x` : '-',
    `${peakMiB.toFixed(0)} MiB${r.walPeakBytes > 4 * limit ? ' (over 4x)' : ''}`,
    `${(r.walEndBytes / MiB).toFixed(0)} MiB`,
    `${(r.dbBytes / MiB).toFixed(0)} MiB`,
    r.loop ? `${ms(r.loop.p99Ms)} / ${ms(r.loop.maxMs)}` : '-',
    `PASSIVE ${steps('PASSIVE')}, RESTART ${steps('RESTART')}, TRUNCATE ${steps('TRUNCATE')}`,
    Number.isFinite(r.walRestarts) ? String(r.walRestarts) : '-',
    r.holds && r.holds.count > 0 ? `${r.holds.count}, ${ms(r.holds.totalMs / r.holds.count)}` : '-',
    String(r.status503 + (r.statusOther ? ` (+${r.statusOther} other)` : '')),
    r.pauses && r.pauses.count > 0
      ? `${r.pauses.count}, ${ms(r.pauses.totalMs)} (longest ${ms(r.pauses.longestMs)})`
      : r.pauses
        ? '0'
        : '-',
    String(r.backups),
  ];
}

const W = 960;
const ROW_H = 150;
const PANEL_W = 440;
const M = { left: 56, top: 24, bottom: 22 };

function plot(result: SustainedResult): string {
  const height = 40 + result.rows.length * ROW_H;
  const limit = result.journalSizeLimitBytes;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${M.left}" y="18" font-size="14" font-weight="bold">Sustained load: request latency (left, log scale; max orange, median blue) and WAL size (right; dashed: 4 x journal_size_limit)</text>`,
  ];
  result.rows.forEach((r, i) => {
    const top = 40 + i * ROW_H;
    const h = ROW_H - M.top - M.bottom;
    const tMax = Math.max(result.seconds, ...r.walSeries.map((p) => p.t));
    const x = (left: number, t: number): number => left + (t / tMax) * PANEL_W;
    // Latency, log scale from 0.1 ms to 10 s.
    const lx = M.left;
    const ly = (v: number): number =>
      top + M.top + h - ((Math.log10(Math.min(Math.max(v, 0.1), 10_000)) + 1) / 5) * h;
    out.push(`<text x="${lx}" y="${top + 14}" font-weight="bold">${esc(r.name)}</text>`);
    out.push(frame(lx, top + M.top, h));
    for (const v of [1, 10, 100, 1000])
      out.push(`<text x="${lx - 4}" y="${ly(v) + 4}" text-anchor="end">${v} ms</text>`);
    out.push(
      line(
        r.latencySeries.map((p) => [x(lx, p.t), ly(p.maxMs)]),
        '#d35400',
      ),
    );
    out.push(
      line(
        r.latencySeries.map((p) => [x(lx, p.t), ly(p.p50Ms)]),
        '#1f4e9c',
      ),
    );
    // WAL size, linear up to the larger of the peak and 4 x the limit.
    const wx = M.left + PANEL_W + 60;
    const top4 = Math.max(4 * limit, ...r.walSeries.map((p) => p.bytes)) * 1.05;
    const wy = (b: number): number => top + M.top + h - (b / top4) * h;
    out.push(frame(wx, top + M.top, h));
    out.push(
      `<line x1="${wx}" y1="${wy(4 * limit)}" x2="${wx + PANEL_W}" y2="${wy(4 * limit)}" stroke="#888" stroke-dasharray="4 3"/>`,
    );
    for (const b of [0, 2 * limit, 4 * limit])
      out.push(`<text x="${wx - 4}" y="${wy(b) + 4}" text-anchor="end">${(b / MiB).toFixed(0)} MiB</text>`);
    out.push(
      line(
        r.walSeries.map((p) => [x(wx, p.t), wy(p.bytes)]),
        '#2e7d32',
      ),
    );
    out.push(
      `<text x="${wx + PANEL_W}" y="${top + M.top + h + 16}" text-anchor="end">${tMax.toFixed(0)} s</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function frame(left: number, top: number, h: number): string {
  return `<rect x="${left}" y="${top}" width="${PANEL_W}" height="${h}" fill="none" stroke="#ccc"/>`;
}

function line(points: [number, number][], color: string): string {
  if (points.length === 0) return '';
  const d = points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.2"/>`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Whether a row ran the reference build (ATS_BENCH_REFERENCE_CLI) rather than this one. */
function isReference(r: SustainedRow): boolean {
  return r.name.endsWith(', reference build');
}

/** The flat-out throughput of this build against the reference build's, when one ran. */
function referenceSentence(result: SustainedResult): string[] {
  const ref = result.rows.find(isReference);
  const ours = ref && result.rows.find((r) => `${r.name}, reference build` === ref.name);
  if (!ref || !ours || !(ref.requestsPerS > 0)) return [];
  const ratio = ours.requestsPerS / ref.requestsPerS;
  return [
    '',
    `Flat-out single POSTs: ${ours.requestsPerS.toFixed(0)} req/s against ${ref.requestsPerS.toFixed(0)} req/s for the reference build (\`${result.reference ?? '?'}\`) in the same run: ${(100 * ratio).toFixed(0)} % (target >= 90 %: ${ratio >= 0.9 ? 'met' : 'missed'}).`,
  ];
}

/** Each target of the section, met or missed, with the figure. */
function targetSentences(result: SustainedResult): string[] {
  const cap = 4 * result.journalSizeLimitBytes;
  const ours = result.rows.filter((r) => !isReference(r));
  const over = ours.filter((r) => r.walPeakBytes > cap);
  const lines = [
    '',
    `- WAL peak <= ${cap / MiB} MiB: ${over.length === 0 ? 'met at every load' : `missed at ${over.map((r) => `${r.name} (${(r.walPeakBytes / MiB).toFixed(0)} MiB)`).join(', ')}`}; highest ${(Math.max(...ours.map((r) => r.walPeakBytes)) / MiB).toFixed(0)} MiB.`,
  ];
  for (const r of ours) {
    const p99 = r.latency?.p99Ms;
    const held = r.baseline?.latency?.p99Ms;
    if (p99 === undefined || held === undefined || !(held > 0)) continue;
    const ratio = p99 / held;
    lines.push(
      `- ${r.name}: p99 ${ms(p99)} against ${ms(held)} held off, ${ratio.toFixed(2)}x (target <= 1.5x: ${ratio <= 1.5 ? 'met' : 'missed'}).`,
    );
  }
  const thousand = ours.find((r) => r.name === 'single, 1,000 req/s');
  if (thousand?.latency)
    lines.push(
      `- single, 1,000 req/s: max ${ms(thousand.latency.maxMs)} (target <= 50 ms: ${thousand.latency.maxMs <= 50 ? 'met' : 'missed'}).`,
    );
  for (const r of ours.filter((x) => x.status503 > 0 && x.pauses))
    lines.push(
      `- ${r.name}: its ${r.status503} 503s came from ${r.pauses?.count} write pauses, ${ms(r.pauses?.totalMs)} in all over ${r.seconds} s, ${r.pauses?.duringBackup} of them during a backup (its snapshot pins the WAL, which this load grows by hundreds of MiB/s, up to the cap); flat-out clients retry at once, so a pause draws hundreds of 503s.`,
    );
  return lines;
}
