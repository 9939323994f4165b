// `npm run bench -- --offsite [--offsite-mb N] [--offsite-reps N]`: off-site throughput and memory.
// Against one local s3rver in one run: a bare SDK PutObject/GetObject of the database file vs
// ats's upload (hash, zstd, multipart) and download (decode, checksum, quick_check) of the same
// file, each in its own process with its peak RSS; then every codec's ratio and speed on it.
import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { ensureDataset } from './dataset.js';
import { describeEnvironment } from './environment.js';
import { kbAsMb, mb, ratio, sec, sizeName, table } from './format.js';
import { log } from './log.js';
import { median as medianOfAll } from './metrics.js';
import type { OffsiteChildResult, OffsiteChildSettings } from './offsite-child.js';
import { benchChild, OUT_DIR, ROOT } from './paths.js';

/** What `--offsite` asks for. */
export interface OffsiteRequest {
  readonly sizeMb: number;
  readonly reps: number;
  /** Bandwidth (MB/s, each way) of the link the second set of rows crosses; 0: not run. */
  readonly linkMBps: number;
  /** Re-render docs/bench-offsite.md from an earlier run's raw results instead of running. */
  readonly fromJson?: string | undefined;
}

/**
 * `--offsite [--offsite-mb N] [--offsite-reps N] [--offsite-link MBPS]` at the start of the
 * arguments, else undefined.
 */
export function offsiteRequest(argv: readonly string[]): OffsiteRequest | undefined {
  if (argv[0] !== '--offsite') return undefined;
  const value = (name: string, fallback: number, least = 1): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < least)
      throw new Error(`${name} must be a whole number >= ${least} (got ${argv[i + 1]})`);
    return n;
  };
  const fromJson = argv.indexOf('--offsite-from-json');
  if (fromJson >= 0 && !argv[fromJson + 1]) throw new Error('--offsite-from-json needs a file');
  return {
    sizeMb: value('--offsite-mb', 1000),
    reps: value('--offsite-reps', 3),
    linkMBps: value('--offsite-link', 100, 0),
    fromJson: fromJson >= 0 ? argv[fromJson + 1] : undefined,
  };
}

/** Runs the off-site bench and prints its tables; raw results go to bench-out/offsite.json. */
export async function runOffsiteBench(request: OffsiteRequest): Promise<void> {
  if (request.fromJson !== undefined) {
    const raw = JSON.parse(fs.readFileSync(request.fromJson, 'utf8')) as {
      request: OffsiteRequest;
      bytes: number;
      env: ReturnType<typeof describeEnvironment>;
      results: Record<string, OffsiteChildResult[]>;
      codecs: CodecResult[];
    };
    const report = renderReport(raw.request, raw.bytes, raw.results, raw.codecs, raw.env);
    fs.writeFileSync(path.join(ROOT, 'docs', 'bench-offsite.md'), `${report}\n`);
    log(`re-rendered docs/bench-offsite.md from ${request.fromJson}`);
    return;
  }
  const work = path.join(OUT_DIR, 'offsite');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const dataset = ensureDataset(path.join(OUT_DIR, 'datasets'), request.sizeMb);
  const env = describeEnvironment();
  const server = await startServer(path.join(work, 's3rver'));
  const keyFile = path.join(work, 'bench.key');
  fs.writeFileSync(keyFile, crypto.randomBytes(32).toString('hex'));
  const results: Record<string, OffsiteChildResult[]> = {};
  const record = (label: string, r: OffsiteChildResult): void => {
    results[label] = [...(results[label] ?? []), r];
    log(
      `${label}: ${sec(r.ms)}, ${mbps(r.bytes, r.ms)} MB/s, CPU ${sec(r.cpuMs ?? 0)}, event loop busy ${sec(r.loopBusyMs ?? 0)}, peak RSS +${kbAsMb(rssGrowthKb(r))}`,
    );
  };
  try {
    const base: Omit<OffsiteChildSettings, 'key' | 'url'> = {
      endpoint: server.endpoint,
      bucket: 'bench',
      file: dataset.file,
      out: path.join(work, 'download.tmp'),
    };
    for (let rep = 0; rep < request.reps; rep++) {
      const key = `bare/${rep}.db`;
      const url = `s3://bench/ats/${rep}`;
      record('bare PutObject', child('bare-put', { ...base, key, url }));
      const up = child('upload', { ...base, key, url });
      record('ats upload', up);
      const upEnc = child('upload', { ...base, key, url: `${url}-enc`, keyFile });
      record('ats upload, encrypted', upEnc);
      record('bare GetObject', child('bare-get', { ...base, key, url }));
      record('ats download', child('download', { ...base, key, url, name: up.name }));
      record(
        'ats download, encrypted',
        child('download', { ...base, key, url: `${url}-enc`, name: upEnc.name, keyFile }),
      );
    }
    if (request.linkMBps > 0) {
      // The same calls through a link of that bandwidth: where the network, not the CPU, is the limit.
      const link = await startLink(server.endpoint, request.linkMBps * 1_048_576);
      try {
        for (let rep = 0; rep < request.reps; rep++) {
          const via = {
            ...base,
            endpoint: link.endpoint,
            key: `link/${rep}.db`,
            url: `s3://bench/link/${rep}`,
          };
          record(LINK.barePut, child('bare-put', via));
          const up = child('upload', via);
          record(LINK.upload, up);
          record(LINK.bareGet, child('bare-get', via));
          record(LINK.download, child('download', { ...via, name: up.name }));
        }
      } finally {
        await link.stop();
      }
    }
  } finally {
    await server.stop();
  }
  const codecs = await measureCodecs(dataset.file, path.join(work, 'codec.tmp'));
  fs.rmSync(work, { recursive: true, force: true });
  const report = renderReport(request, dataset.bytes, results, codecs, env);
  process.stdout.write(`${report}\n`);
  fs.writeFileSync(path.join(ROOT, 'docs', 'bench-offsite.md'), `${report}\n`);
  log('written: docs/bench-offsite.md');
  fs.writeFileSync(
    path.join(OUT_DIR, 'offsite.json'),
    `${JSON.stringify({ request, bytes: dataset.bytes, env, results, codecs }, null, 2)}\n`,
  );
  log(`raw results in ${path.relative(ROOT, path.join(OUT_DIR, 'offsite.json'))}`);
}

/** The columns of both throughput tables. */
const COLUMNS = [
  'operation',
  'time',
  'MB/s',
  'vs bare',
  'CPU',
  'event loop busy',
  'peak RSS growth (worst rep)',
  'stored',
];

/** Labels of the rows run through the paced link. */
const LINK = {
  barePut: 'bare PutObject, link',
  upload: 'ats upload, link',
  bareGet: 'bare GetObject, link',
  download: 'ats download, link',
} as const;

function child(op: string, settings: OffsiteChildSettings): OffsiteChildResult {
  const run = spawnSync(
    process.execPath,
    ['--expose-gc', benchChild('offsite-child.js'), op, JSON.stringify(settings)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  if (run.status !== 0) throw new Error(`offsite ${op} failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as OffsiteChildResult;
}

interface CodecResult {
  readonly codec: string;
  readonly bytes: number;
  readonly compressedBytes: number;
  readonly compressMs: number;
  readonly decompressMs: number;
}

/** Each codec streamed over the file once each way, one thread, output to disk. */
async function measureCodecs(file: string, tmp: string): Promise<CodecResult[]> {
  const codecs: [string, () => NodeJS.ReadWriteStream, () => NodeJS.ReadWriteStream][] = [
    ['zstd-1', () => new CompressStream({ compressionLevel: 1 }), () => new DecompressStream()],
    ['zstd-3', () => new CompressStream({ compressionLevel: 3 }), () => new DecompressStream()],
    [
      'brotli-1',
      () => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } }),
      () => zlib.createBrotliDecompress(),
    ],
    ['gzip-1', () => zlib.createGzip({ level: 1 }), () => zlib.createGunzip()],
    ['gzip-6', () => zlib.createGzip({ level: 6 }), () => zlib.createGunzip()],
  ];
  const out: CodecResult[] = [];
  const bytes = fs.statSync(file).size;
  for (const [codec, compress, decompress] of codecs) {
    let started = performance.now();
    await pipeline(
      fs.createReadStream(file, { highWaterMark: 1 << 20 }),
      compress(),
      fs.createWriteStream(tmp),
    );
    const compressMs = performance.now() - started;
    const compressedBytes = fs.statSync(tmp).size;
    started = performance.now();
    await pipeline(
      fs.createReadStream(tmp, { highWaterMark: 1 << 20 }),
      decompress(),
      fs.createWriteStream(`${tmp}.out`),
    );
    const decompressMs = performance.now() - started;
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.out`, { force: true });
    out.push({ codec, bytes, compressedBytes, compressMs, decompressMs });
    log(`${codec}: ratio ${(bytes / compressedBytes).toFixed(2)}, ${mbps(bytes, compressMs)} MB/s compress`);
  }
  return out;
}

function renderReport(
  request: OffsiteRequest,
  bytes: number,
  results: Record<string, OffsiteChildResult[]>,
  codecs: readonly CodecResult[],
  env: ReturnType<typeof describeEnvironment>,
): string {
  const median = (label: string, pick: (r: OffsiteChildResult) => number): number => {
    const values = (results[label] ?? []).map(pick).sort((a, b) => a - b);
    return values[Math.floor((values.length - 1) / 2)] ?? Number.NaN;
  };
  // Each rep runs the bare call and ats's side by side, so "vs bare" is the median of the reps' own
  // ratios: the machine's speed drifts between reps (a bare PutObject took 3.05 s and 3.68 s in
  // two reps a minute apart), and a ratio of medians of 2-3 mixes reps.
  const ratios = (label: string, bare: string): number[] =>
    (results[label] ?? [])
      .map((r, i) => (results[bare]?.[i]?.ms ?? Number.NaN) / r.ms)
      .filter((x) => Number.isFinite(x));
  const row = (label: string, bare: string): string[] => {
    const ms = median(label, (r) => r.ms);
    return [
      label,
      sec(ms),
      mbps(bytes, ms),
      label === bare
        ? '1.00'
        : `${ratio(medianOfAll(ratios(label, bare)))} (${ratios(label, bare)
            .map((x) => ratio(x))
            .join(', ')})`,
      sec(median(label, (r) => r.cpuMs ?? 0)),
      sec(median(label, (r) => r.loopBusyMs ?? 0)),
      kbAsMb(Math.max(...(results[label] ?? []).map(rssGrowthKb))),
      label.includes('upload') ? mb(median(label, (r) => r.storedBytes ?? 0)) : '',
    ];
  };
  const growthKb = (labels: readonly string[]): { kb: number; label: string } =>
    labels
      .flatMap((label) => (results[label] ?? []).map((r) => ({ kb: rssGrowthKb(r), label })))
      .reduce((worst, x) => (Number.isNaN(worst.kb) || x.kb > worst.kb ? x : worst), {
        kb: Number.NaN,
        label: '',
      });
  const speed = (label: string, bare: string, extra: string): string[] => {
    const r = medianOfAll(ratios(label, bare));
    const other = medianOfAll(ratios(extra, bare));
    return [
      `${label.replace('ats ', '')} on loopback >= 0.80x the bare ${bare.replace('bare ', '')}`,
      Number.isFinite(r) ? (r >= 0.8 ? 'met' : 'missed') : '–',
      `${ratio(r)} (median of ${request.reps} paired reps; encrypted ${ratio(other)})`,
    ];
  };
  const memory = (what: string, labels: readonly string[]): string[] => {
    const worst = growthKb(labels);
    return [
      `peak RSS growth of ${what} <= 64 MB`,
      Number.isFinite(worst.kb) ? (worst.kb <= 64 * 1024 ? 'met' : 'missed') : '–',
      `worst ${kbAsMb(worst.kb)} (${worst.label})`,
    ];
  };
  const uploads = ['ats upload', 'ats upload, encrypted', LINK.upload];
  const downloads = ['ats download', 'ats download, encrypted', LINK.download];
  return [
    `## Off-site: ${sizeName(request.sizeMb)} database (${mb(bytes)}), local s3rver, median of ${request.reps}`,
    '',
    `Host: ${JSON.stringify(env)}`,
    '',
    'Throughput is of the database file (plaintext) bytes; "vs bare" is the bare SDK call\'s time over',
    "ats's in the same rep, median of the reps (each rep's in brackets; >= 0.80 is the target). ats",
    "upload starts from the catalogue's checksum, as the service does, and a second worker hashes",
    'the file beside the encoder to check it; ats download includes the checksum check, fsync and',
    "a quick_check of the result. CPU is the process's (all its threads, not the server's); \"event",
    'loop busy" is the time its main thread was not free to serve (the codec runs in workers).',
    '',
    '### Targets (issue 14)',
    '',
    table(
      ['target', 'verdict', 'measured'],
      [
        speed('ats upload', 'bare PutObject', 'ats upload, encrypted'),
        speed('ats download', 'bare GetObject', 'ats download, encrypted'),
        memory('an upload', uploads),
        memory('a download', downloads),
      ],
    ),
    '',
    '### Loopback',
    '',
    table(COLUMNS, [
      row('bare PutObject', 'bare PutObject'),
      row('ats upload', 'bare PutObject'),
      row('ats upload, encrypted', 'bare PutObject'),
      row('bare GetObject', 'bare GetObject'),
      row('ats download', 'bare GetObject'),
      row('ats download, encrypted', 'bare GetObject'),
    ]),
    '',
    `quick_check inside ats download: ${sec(median('ats download', (r) => r.verifyMs ?? 0))}`,
    ...(request.linkMBps > 0
      ? [
          '',
          `### Over a ${request.linkMBps} MB/s link`,
          '',
          `The same calls (no encryption) through a proxy that paces each direction to ${request.linkMBps} MB/s, in`,
          'front of the same server: a network link of that bandwidth, where loopback has none.',
          '',
          table(COLUMNS, [
            row(LINK.barePut, LINK.barePut),
            row(LINK.upload, LINK.barePut),
            row(LINK.bareGet, LINK.bareGet),
            row(LINK.download, LINK.bareGet),
          ]),
        ]
      : []),
    '',
    '### Codecs (streamed, one thread, to disk)',
    '',
    table(
      ['codec', 'ratio', 'compress MB/s', 'decompress s'],
      codecs.map((c) => [
        c.codec,
        (c.bytes / c.compressedBytes).toFixed(2),
        mbps(c.bytes, c.compressMs),
        sec(c.decompressMs),
      ]),
    ),
  ].join('\n');
}

/** How much a child's RSS grew during its measured work: its peak over its start. */
function rssGrowthKb(r: OffsiteChildResult): number {
  return (r.rssPeakKb ?? 0) - (r.rssStartKb ?? 0);
}

function mbps(bytes: number, ms: number): string {
  return (bytes / 1_048_576 / (ms / 1000)).toFixed(0);
}

/** The port a child server prints as `{"port": N}` on its first line; rejects if it exits first. */
function portOf(child: ChildProcessByStdio<null, Readable, null>, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve((JSON.parse(out.split('\n')[0] ?? '{}') as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

/** The link proxy (link-proxy.ts) in its own process, in front of `endpoint`. */
async function startLink(
  endpoint: string,
  bytesPerSecond: number,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const target = new URL(endpoint);
  const proxy = spawn(process.execPath, [benchChild('link-proxy.js'), target.port, String(bytesPerSecond)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await portOf(proxy, 'link proxy');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      proxy.kill('SIGTERM');
      await new Promise((resolve) => proxy.once('exit', resolve));
    },
  };
}

/** s3rver in its own process (test/fixtures/s3rver.mjs), bucket `bench`. */
async function startServer(dir: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  fs.mkdirSync(dir, { recursive: true });
  const server = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/s3rver.mjs'), dir, 'bench'], {
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await portOf(server, 's3rver');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
