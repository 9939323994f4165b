import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from `dist-bench/bench/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Everything the bench writes that is not the report: cached datasets and scratch files. */
export const OUT_DIR = path.join(ROOT, 'bench-out');

/**
 * The built CLI that `ours-cli` and the service case spawn; ATS_BENCH_CLI names another build (an
 * experiment: a patched copy of dist/ with the repository's package.json two folders up).
 */
export const CLI = process.env.ATS_BENCH_CLI ?? path.join(ROOT, 'dist/cli/main.js');

/** Compiled bench entry points spawned as child processes. */
export const BENCH_DIST = path.join(ROOT, 'dist-bench/bench');

/** Path of a compiled bench child entry, e.g. `load/writer-process.js`. */
export function benchChild(relative: string): string {
  return path.join(BENCH_DIST, relative);
}
