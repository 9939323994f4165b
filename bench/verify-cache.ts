import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lastJsonLine } from './child.js';
import { ms, sec, sizeName, table } from './format.js';
import { CLI } from './paths.js';

/** quick_check of a fresh block-engine copy, with the copy still in the page cache and after dropping it. */
export interface VerifyCacheResult {
  readonly sizeMb: number;
  readonly copyMs: readonly number[];
  /** quick_check right after the backup, as `ats backup` runs it (the copy's pages still cached). */
  readonly hotMs: readonly number[];
  /** The same copy after `dd iflag=nocache count=0` dropped its pages (POSIX_FADV_DONTNEED). */
  readonly coldMs: readonly number[];
}

/**
 * Verification now dominates a backup's time. Measures whether quick_check costs less when the
 * copy was just written (its pages cached) than when it must be read from disk: per repeat, one
 * `ats backup --engine block --verify off`, a timed quick_check, the copy's cache dropped, and a
 * second timed quick_check. The source is idle.
 */
export function measureVerifyCache(
  source: string,
  outDir: string,
  sizeMb: number,
  repeats = 3,
): VerifyCacheResult {
  const copyMs: number[] = [];
  const hotMs: number[] = [];
  const coldMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(outDir, { recursive: true });
    const out = execFileSync(
      process.execPath,
      [
        CLI,
        'backup',
        '--db',
        source,
        '--out',
        outDir,
        '--keep',
        '1',
        '--verify',
        'off',
        '--engine',
        'block',
        '--json',
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const result = JSON.parse(out.slice(out.indexOf('{'))) as { file: string; copyMs: number } | undefined;
    if (!result) throw new Error(`verify-cache: no result from ats backup: ${lastJsonLine(out) ?? out}`);
    copyMs.push(result.copyMs);
    hotMs.push(quickCheckMs(result.file));
    execFileSync('dd', [`if=${result.file}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
    coldMs.push(quickCheckMs(result.file));
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  return { sizeMb, copyMs, hotMs, coldMs };
}

function quickCheckMs(file: string): number {
  const started = performance.now();
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('quick_check', { simple: true });
    if (rows !== 'ok')
      throw new Error(`verify-cache: quick_check of ${path.basename(file)}: ${String(rows)}`);
  } finally {
    db.close();
  }
  return performance.now() - started;
}

const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

/** The report's section on it. */
export function verifyCacheSection(results: readonly VerifyCacheResult[] | undefined): string {
  if (!results?.length) return 'Not run (`--cases` without `ours-block`).';
  return [
    'quick_check of a fresh block-engine copy (idle source), medians of the repeats: right after the backup, as `ats backup` runs it, its pages still in the page cache; then the same file after its pages were dropped (`dd iflag=nocache count=0`). Verification is reported apart from the copy everywhere in this report.',
    '',
    table(
      [
        'Size',
        'Copy (durable)',
        'quick_check, copy cached',
        'quick_check, cache dropped',
        'cached / dropped',
      ],
      results.map((r) => [
        sizeName(r.sizeMb),
        sec(median(r.copyMs)),
        `${sec(median(r.hotMs))} (${r.hotMs.map((x) => ms(x)).join(', ')})`,
        `${sec(median(r.coldMs))} (${r.coldMs.map((x) => ms(x)).join(', ')})`,
        `${(median(r.hotMs) / median(r.coldMs)).toFixed(2)}×`,
      ]),
    ),
  ].join('\n');
}
