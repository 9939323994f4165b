import { parseArgs } from 'node:util';

/** The loads a cell can run under, lightest first. */
export const LOADS = ['none', 'rate', 'full', 'service'] as const;
export type LoadId = (typeof LOADS)[number];

/** Everything the command line chooses. */
export interface BenchOptions {
  readonly sizes: readonly number[];
  readonly cases: readonly string[];
  readonly loads: readonly LoadId[];
  /** Each contender is stopped after this long and reported as "did not finish". */
  readonly capMs: number;
  /** Commits per second of the fixed-rate writer. */
  readonly rate: number;
  /** Requests per second the HTTP load sends to the service. */
  readonly httpRate: number;
  /** Seconds of each load in the "sustained load" section; 0 skips it (it runs with the service load). */
  readonly sustainedSeconds: number;
  /** Backups shorter than this are repeated back to back until they cover it. */
  readonly minWindowMs: number;
  /** Longest writer window judged per contender (and so the longest baseline window). */
  readonly windowMaxMs: number;
  /** The writer's wal_autocheckpoint (SQLite's default 1000; 0 = the writer never checkpoints). */
  readonly writerAutocheckpoint: number;
  /** Also run the profiling cells (ours-service with a writer that never checkpoints inline). */
  readonly profile: boolean;
  /** Run contenders even where a lighter or smaller cell already showed they cannot finish. */
  readonly runAll: boolean;
  readonly report: string;
  readonly json: string;
  /** Re-render the report from this earlier results file instead of measuring. */
  readonly fromJson: string | undefined;
}

export const DEFAULTS = Object.freeze({
  sizes: [100, 1000],
  bigSize: 5000,
  loads: ['none', 'rate', 'full', 'service'] as LoadId[],
  capSeconds: 60,
  rate: 200,
  httpRate: 100,
  sustainedSeconds: 60,
  minWindowSeconds: 5,
  windowMaxSeconds: 20,
});

export const USAGE = `Usage: npm run bench -- [options]
  --sizes 100,1000     database sizes in MB (default 100,1000)
  --big                add the 5 GB database (5000)
  --cases LIST         contenders: ours (= ours-block,ours-cli,ours-service), ours-block, ours-cli,
                       ours-service, note,
                       bs3-default, shell, vacuum, cp (default: all)
  --loads LIST         none, rate, full, service (default: all)
  --cap SECONDS        stop a contender after this long: "did not finish" (default 60)
  --rate N             commits/s of the fixed-rate writer (default 200)
  --http-rate N        requests/s sent to the service (default 100)
  --sustained SECONDS  each load of the sustained-load section (5 loads, ~1.3x this each;
                       default 60; 0 skips it; it runs when --loads has service)
  --from-json FILE     only re-render the report from an earlier run's raw results
  --min-window SECONDS repeat shorter backups back to back until they cover this (default 5)
  --window SECONDS     longest writer window judged per contender (the last part of
                       a longer backup), and its baseline (default 20)
  --writer-autocheckpoint N  the writer's wal_autocheckpoint (default 1000, SQLite's; 0: never)
  --no-profile         skip the profiling cells (ours-service again with a writer at wal_autocheckpoint=0)
  --run-all            also run contenders a lighter or smaller cell showed cannot finish
  --report FILE        Markdown report (default BENCHMARKS.md)
  --json FILE          raw results (default bench-out/results.json, not kept in git)
  --offsite [--offsite-mb N] [--offsite-reps N] [--offsite-link MBPS]  only the off-site bench: upload/download vs bare
                       SDK calls to a local s3rver, peak RSS, codecs (default 1000 MB, 3 reps);
                       --offsite --offsite-from-json FILE re-renders its page from a run's raw results
Experiments: ATS_BENCH_ENGINE=path/to/backup/index.js runs ours-service on another engine build;
ATS_BENCH_CLI=path/to/cli/main.js runs ours-cli and the service from another build;
ATS_BENCH_REFERENCE_CLI=path/to/cli/main.js adds that build's flat-out single POSTs to the sustained
section, beside this build's (the throughput ratio of issue 10's target).`;

/** Parses and validates the command line; throws an Error naming the option and the value. */
export function parseBenchArgs(argv: readonly string[], allCases: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      sizes: { type: 'string' },
      big: { type: 'boolean' },
      cases: { type: 'string' },
      loads: { type: 'string' },
      cap: { type: 'string' },
      rate: { type: 'string' },
      'http-rate': { type: 'string' },
      sustained: { type: 'string' },
      window: { type: 'string' },
      'min-window': { type: 'string' },
      'run-all': { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      'writer-autocheckpoint': { type: 'string' },
      report: { type: 'string' },
      json: { type: 'string' },
      'from-json': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) throw new HelpRequested();
  const sizes =
    values.sizes === undefined ? [...DEFAULTS.sizes] : list(values.sizes).map((s) => positive('--sizes', s));
  if (values.big && !sizes.includes(DEFAULTS.bigSize)) sizes.push(DEFAULTS.bigSize);
  const cases =
    values.cases === undefined
      ? [...allCases]
      : list(values.cases).flatMap((c) => (c === 'ours' ? ['ours-block', 'ours-cli', 'ours-service'] : [c]));
  for (const c of cases)
    if (!allCases.includes(c))
      throw new Error(`--cases: unknown contender "${c}" (known: ours, ${allCases.join(', ')})`);
  const loads = values.loads === undefined ? [...DEFAULTS.loads] : list(values.loads);
  for (const l of loads)
    if (!(LOADS as readonly string[]).includes(l))
      throw new Error(`--loads: unknown load "${l}" (known: ${LOADS.join(', ')})`);
  return Object.freeze({
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    cases: allCases.filter((c) => cases.includes(c)),
    loads: LOADS.filter((l) => loads.includes(l)),
    capMs: positive('--cap', values.cap ?? String(DEFAULTS.capSeconds)) * 1000,
    rate: positive('--rate', values.rate ?? String(DEFAULTS.rate)),
    httpRate: positive('--http-rate', values['http-rate'] ?? String(DEFAULTS.httpRate)),
    sustainedSeconds: wholeOrZero('--sustained', values.sustained ?? String(DEFAULTS.sustainedSeconds)),
    minWindowMs: positive('--min-window', values['min-window'] ?? String(DEFAULTS.minWindowSeconds)) * 1000,
    windowMaxMs: positive('--window', values.window ?? String(DEFAULTS.windowMaxSeconds)) * 1000,
    writerAutocheckpoint: wholeOrZero('--writer-autocheckpoint', values['writer-autocheckpoint'] ?? '1000'),
    profile: !(values['no-profile'] ?? false),
    runAll: values['run-all'] ?? false,
    report: values.report ?? 'BENCHMARKS.md',
    json: values.json ?? 'bench-out/results.json',
    fromJson: values['from-json'],
  });
}

/** `--help` was given: print {@link USAGE} and stop. */
export class HelpRequested extends Error {}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function wholeOrZero(option: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${option} must be a whole number ≥ 0 (got "${text}")`);
  return n;
}

function positive(option: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${option} must be a positive number (got "${text}")`);
  return n;
}
