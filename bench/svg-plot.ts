import type { SeriesPoint } from './metrics.js';
import type { CellSeries } from './results.js';

/** One strip of the plot: a writer's commit latency through one cell. */
export interface PlotPanel {
  readonly title: string;
  readonly series: CellSeries;
}

const WIDTH = 960;
const PANEL_HEIGHT = 170;
const MARGIN = { left: 64, right: 16, top: 26, bottom: 30 };
const HEADER = 44;

/**
 * Draws the writer's commit latency over time (median and maximum per bucket, log scale), one
 * panel per contender, with the backup window and the baseline window shaded. Plain SVG.
 */
export function latencyPlot(title: string, panels: readonly PlotPanel[]): string {
  const allMax = panels.flatMap((p) => p.series.points.map((pt) => pt.maxMs)).filter(Number.isFinite);
  const allMin = panels
    .flatMap((p) => p.series.points.map((pt) => pt.p50Ms))
    .filter((v) => Number.isFinite(v) && v > 0);
  const yMinExp = Math.floor(Math.log10(Math.max(1e-3, Math.min(...allMin, 1))));
  const yMaxExp = Math.ceil(Math.log10(Math.max(...allMax, 10)));
  const tMax = Math.max(...panels.map((p) => p.series.baselineEnd), 1);
  const height = HEADER + panels.length * PANEL_HEIGHT + 24;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold">${esc(title)} (log scale)</text>`,
    `<rect x="${MARGIN.left}" y="27" width="12" height="9" fill="#f4b4b4"/><text x="${MARGIN.left + 16}" y="35">backup running</text>`,
    `<rect x="${MARGIN.left + 120}" y="27" width="12" height="9" fill="#c8e6c9"/><text x="${MARGIN.left + 136}" y="35">baseline window (same length, no backup)</text>`,
    `<line x1="${MARGIN.left + 380}" y1="31" x2="${MARGIN.left + 396}" y2="31" stroke="#d35400" stroke-width="1.2"/><text x="${MARGIN.left + 400}" y="35">max per bucket</text>`,
    `<line x1="${MARGIN.left + 500}" y1="31" x2="${MARGIN.left + 516}" y2="31" stroke="#1f4e9c" stroke-width="1.5"/><text x="${MARGIN.left + 520}" y="35">median per bucket</text>`,
  ];
  panels.forEach((panel, i) => {
    const top = HEADER + i * PANEL_HEIGHT;
    const plotTop = top + MARGIN.top;
    const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
    const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
    const x = (t: number): number => MARGIN.left + (t / tMax) * plotWidth;
    const y = (v: number): number => {
      const e = Math.log10(Math.max(v, 10 ** yMinExp));
      return plotTop + plotHeight - ((e - yMinExp) / (yMaxExp - yMinExp)) * plotHeight;
    };
    const s = panel.series;
    out.push(
      `<text x="${MARGIN.left}" y="${top + 18}" font-size="12" font-weight="bold">${esc(panel.title)}</text>`,
    );
    for (const [from, to] of s.backups) {
      out.push(
        `<rect x="${x(from)}" y="${plotTop}" width="${Math.max(1, x(to) - x(from))}" height="${plotHeight}" fill="#f4b4b4" opacity="0.7"/>`,
      );
    }
    out.push(
      `<rect x="${x(s.baselineStart)}" y="${plotTop}" width="${Math.max(1, x(s.baselineEnd) - x(s.baselineStart))}" height="${plotHeight}" fill="#c8e6c9" opacity="0.7"/>`,
    );
    for (let e = yMinExp; e <= yMaxExp; e++) {
      out.push(
        `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`,
      );
      out.push(`<text x="${MARGIN.left - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${tickLabel(e)}</text>`);
    }
    const step = tMax > 60 ? 10 : tMax > 20 ? 5 : tMax > 8 ? 2 : 1;
    for (let t = 0; t <= tMax; t += step) {
      out.push(
        `<line x1="${x(t)}" x2="${x(t)}" y1="${plotTop + plotHeight}" y2="${plotTop + plotHeight + 4}" stroke="#333"/>`,
      );
      out.push(`<text x="${x(t)}" y="${plotTop + plotHeight + 15}" text-anchor="middle">${t}</text>`);
    }
    out.push(
      `<rect x="${MARGIN.left}" y="${plotTop}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
    );
    // Buckets with no commit (the writer was stuck) break the lines; a slow commit then stands alone as a dot.
    out.push(
      ...segments(s.points).map((seg) =>
        polyline(
          seg.map((p) => [x(p.t), y(p.maxMs)]),
          '#d35400',
          1,
        ),
      ),
    );
    out.push(
      ...segments(s.points).map((seg) =>
        polyline(
          seg.map((p) => [x(p.t), y(p.p50Ms)]),
          '#1f4e9c',
          1.5,
        ),
      ),
    );
    out.push(
      `<text x="14" y="${plotTop + plotHeight / 2}" transform="rotate(-90 14 ${plotTop + plotHeight / 2})" text-anchor="middle">commit latency</text>`,
    );
  });
  out.push(
    `<text x="${WIDTH / 2}" y="${height - 6}" text-anchor="middle">seconds since the writer started (bucket ${panels[0]?.series.bucketMs ?? 0} ms)</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Runs of consecutive buckets that hold at least one commit. */
function segments(points: readonly SeriesPoint[]): SeriesPoint[][] {
  const runs: SeriesPoint[][] = [];
  let current: SeriesPoint[] = [];
  for (const p of points) {
    if (p.count > 0) current.push(p);
    else if (current.length) {
      runs.push(current);
      current = [];
    }
  }
  if (current.length) runs.push(current);
  return runs;
}

function polyline(points: readonly (readonly [number, number])[], color: string, width: number): string {
  if (points.length === 0) return '';
  const [only] = points;
  if (points.length === 1 && only)
    return `<circle cx="${only[0].toFixed(1)}" cy="${only[1].toFixed(1)}" r="2.5" fill="${color}"/>`;
  return `<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
}

function tickLabel(exp: number): string {
  const v = 10 ** exp;
  return v >= 1000 ? `${v / 1000} s` : v >= 1 ? `${v} ms` : `${Number(v.toPrecision(1))} ms`;
}

function esc(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
