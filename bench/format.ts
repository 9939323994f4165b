/** Number formatting for the report's tables. */
import type { LoadId } from './args.js';

/** Milliseconds as seconds: "0.55 s". */
export function sec(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`;
}

/** Milliseconds: "0.05 ms", "3.2 ms", "1,204 ms". */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value).toLocaleString('en-US')} ms`;
}

/** A ratio: "1.9×". */
export function ratio(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x >= 100 ? `${Math.round(x)}×` : `${x.toFixed(x >= 10 ? 0 : 2)}×`;
}

/** Bytes as MB: "112 MB". */
export function mb(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '–';
  return bytes >= 100e6
    ? `${Math.round(bytes / 1e6).toLocaleString('en-US')} MB`
    : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** kB (as /proc reports them) as MB. */
export function kbAsMb(kb: number | undefined): string {
  return kb === undefined ? '–' : mb(kb * 1024);
}

/** An integer with thousands separators. */
export function int(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US');
}

/** A dataset size in MB as the report names it: "100 MB", "1 GB". */
export function sizeName(sizeMb: number): string {
  return sizeMb >= 1000 && sizeMb % 1000 === 0 ? `${sizeMb / 1000} GB` : `${sizeMb} MB`;
}

/** A Markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

/** A load as the report names it. */
export function loadName(load: LoadId, opts: { rate: number }): string {
  return load === 'none'
    ? 'no writer'
    : load === 'rate'
      ? `${opts.rate} commits/s`
      : load === 'full'
        ? 'full-speed writer'
        : 'service';
}
