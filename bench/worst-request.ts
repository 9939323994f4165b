// The worst accepted request: the most expensive shapes the store's cost budget still accepts
// (INPUT_LIMITS), put through the real app, timed. The app does everything on the event loop
// (parse, validate, one SQLite transaction), so a request's time is the time /healthz, signals and
// the ticker wait behind it. Run alone: `node dist-bench/bench/worst-request.js`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { table } from './format.js';
import { OUT_DIR, ROOT } from './paths.js';

// The built package, as the other bench modules load it (the bench compiles to dist-bench/).
const load = async <T>(part: string): Promise<T> =>
  (await import(pathToFileURL(path.join(ROOT, `dist/${part}/index.js`)).href)) as T;
const { BackupJob } = await load<typeof import('../dist/pulse/index.js')>('pulse');
const { buildApp } = await load<typeof import('../dist/server/index.js')>('server');
const {
  EVICTION_LIMITS,
  INPUT_LIMITS: L,
  openStore,
} = await load<typeof import('../dist/store/index.js')>('store');

/** One shape's timings over its repetitions. */
export interface WorstRequestResult {
  readonly shape: string;
  readonly rows: number;
  readonly bodyBytes: number;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly status: number;
  /** A request (the default), or a background eviction slice: no request waits for it as a whole. */
  readonly kind?: 'request' | 'slice';
}

const REPEAT = 5;
const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Each shape: a body maker (fresh values per repetition) and the rows it writes. */
const SHAPES: readonly { shape: string; rows: number; body: (r: string) => unknown }[] = [
  {
    shape: `one attestation: 16 x 16 pairs, 256 subjects, 256 predicates`,
    rows: 1 + 256 + 256 + 16 + 16 + 256,
    body: (r) => ({
      subjects: values(`s${r}`, 256),
      predicates: values(`p${r}`, 256),
      contexts: values(`c${r}`, 16),
      actors: values(`a${r}`, 16),
    }),
  },
  {
    shape: `batch at maxRowsPerBatch (${L.maxRowsPerBatch}): 6 x 1024 rows`,
    rows: 6 * 1024,
    body: (r) =>
      Array.from({ length: 6 }, (_, i) => ({
        subjects: values(`s${r}-${i}`, 256),
        predicates: values(`p${r}-${i}`, 256),
        contexts: values(`c${r}-${i}`, 255),
        actors: [`a${r}-${i}`],
      })),
  },
  {
    shape: `batch at maxPairsPerBatch (${L.maxPairsPerBatch}): 16 x 16 x 16 pairs`,
    rows: 16 * (3 + 32 + 256),
    body: (r) =>
      Array.from({ length: 16 }, (_, i) => ({
        subjects: [`s${r}-${i}`],
        predicates: ['p'],
        contexts: values(`c${r}-${i}`, 16),
        actors: values(`a${r}-${i}`, 16),
      })),
  },
  {
    shape: `batch at maxValueBytesPerBatch (256 KiB): 64 x 4000-character subjects`,
    rows: 64 * 6,
    body: (r) =>
      Array.from({ length: 64 }, (_, i) => ({
        subjects: [`${'x'.repeat(3990)}${r}-${i}`],
        predicates: ['p'],
        contexts: ['c'],
        actors: [`a${i}`],
      })),
  },
  {
    shape: `batch of 15 x 64 KiB attributes`,
    rows: 15 * 6,
    body: (r) =>
      Array.from({ length: 15 }, (_, i) => ({
        subjects: [`s${r}-${i}`],
        predicates: ['p'],
        contexts: ['c'],
        actors: [`a${i}`],
        attributes: { blob: 'y'.repeat(L.maxAttributesBytes - 20) },
      })),
  },
  {
    shape: 'batch of 1000 minimal attestations (default max_batch)',
    rows: 1000 * 6,
    body: (r) =>
      Array.from({ length: 1000 }, (_, i) => ({
        subjects: [`s${r}-${i}`],
        predicates: ['p'],
        contexts: [`c${i % 100}`],
        actors: [`a${i % 10}`],
      })),
  },
];

/** Puts every shape REPEAT times through a fresh app on a fresh database; returns the timings. */
export async function measureWorstRequests(workDir: string): Promise<WorstRequestResult[]> {
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  const database = path.join(workDir, 'worst.db');
  const store = openStore(database, { maxPerActorContext: 64, maxBatch: 1000 });
  const silent = pino({ level: 'silent' });
  const backups = new BackupJob(
    { database, backupDir: workDir, intervalSeconds: 0, keep: 1, verify: 'off', timeoutSeconds: 60 },
    silent,
  );
  const app = await buildApp({
    store,
    backups,
    logger: silent,
    maxBodyBytes: 4 << 20,
    maxBatch: 1000,
    token: undefined,
  });
  try {
    const results: WorstRequestResult[] = [];
    for (const { shape, rows, body } of SHAPES) {
      const times: number[] = [];
      let status = 0;
      let bodyBytes = 0;
      // One untimed put first: the service that takes the worst request is a warm one.
      await app.inject({ method: 'POST', url: '/attestations', payload: body('warm') as object });
      for (let r = 0; r < REPEAT; r++) {
        const payload = JSON.stringify(body(String(r)));
        bodyBytes = Buffer.byteLength(payload);
        const start = performance.now();
        const response = await app.inject({
          method: 'POST',
          url: '/attestations',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        times.push(performance.now() - start);
        status = response.statusCode;
      }
      times.sort((a, b) => a - b);
      results.push({
        shape,
        rows,
        bodyBytes,
        medianMs: times[Math.floor(times.length / 2)] ?? 0,
        maxMs: times.at(-1) ?? 0,
        status,
      });
    }
    // A full page: limit 1000 over rows of 64 KiB attributes, cut at maxPageBytes.
    const times: number[] = [];
    let bodyBytes = 0;
    let status = 0;
    for (let r = 0; r < REPEAT; r++) {
      const start = performance.now();
      const response = await app.inject({ url: '/attestations?limit=1000' });
      times.push(performance.now() - start);
      bodyBytes = response.rawPayload.length;
      status = response.statusCode;
    }
    times.sort((a, b) => a - b);
    results.push({
      shape: 'GET /attestations?limit=1000, a page cut at maxPageBytes',
      rows: 0,
      bodyBytes,
      medianMs: times[Math.floor(times.length / 2)] ?? 0,
      maxMs: times.at(-1) ?? 0,
      status,
    });
    results.push(...(await measureEvictions(workDir)));
    return results;
  } finally {
    await app.close();
    store.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * enforce_limits' worst case: maxPerActorContext 1, and accepted attestations whose 256 pairs each
 * are the only entry of an older 256-pair attestation, so the write has 256 attestations (132,096
 * rows) to evict per attestation: one attestation, and a batch of 16 (4096 pairs, 2.1 million
 * rows). The request evicts at most EVICTION_LIMITS.maxRowsPerTransaction rows; the store drains
 * the rest in background slices of the same size. Two rows each: the request, until its reply is
 * sent (the slices start after it: they are the next row), and the slices.
 */
async function measureEvictions(workDir: string): Promise<WorstRequestResult[]> {
  const results: WorstRequestResult[] = [];
  for (const { batch, repeat } of [
    { batch: 1, repeat: 3 },
    { batch: 16, repeat: 1 },
  ]) {
    const requests: number[] = [];
    const slices: { at: number; ms: number; rows: number }[] = [];
    let status = 0;
    let bodyBytes = 0;
    let requestRows = 0;
    for (let r = 0; r < repeat; r++) {
      const database = path.join(workDir, `evict-${batch}-${r}.db`);
      let drained: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        drained = resolve;
      });
      const store = openStore(
        database,
        { maxPerActorContext: 1, maxBatch: 1000 },
        {
          onEviction: (e) => {
            if (e.kind === 'slice') slices.push({ at: performance.now(), ms: e.ms, rows: e.rows });
            else if (e.kind === 'drained') drained();
          },
        },
      );
      const silent = pino({ level: 'silent' });
      const backups = new BackupJob(
        { database, backupDir: workDir, intervalSeconds: 0, keep: 1, verify: 'off', timeoutSeconds: 60 },
        silent,
      );
      // The reply is on its way once the app's afterWrite hook runs (onSend): the slices the put
      // scheduled can only run after that, while the inject resolves, and are not the request's.
      let sentAt = 0;
      const app = await buildApp({
        store,
        backups,
        logger: silent,
        maxBodyBytes: 4 << 20,
        maxBatch: 1000,
        token: undefined,
        afterWrite: () => {
          sentAt = performance.now();
        },
      });
      try {
        // New attestation i has actors x{i}-* by contexts y{i}-* (256 pairs; 16 by 16 in a batch, to
        // stay within maxRowsPerBatch); each of its pairs already holds one old 256-pair attestation.
        const side = batch === 1 ? { actors: 1, contexts: 256 } : { actors: 16, contexts: 16 };
        const news = Array.from({ length: batch }, (_, i) => ({
          subjects: ['new'],
          predicates: ['p'],
          contexts: values(`y${i}`, side.contexts),
          actors: values(`x${i}`, side.actors),
        }));
        const pairs = news.flatMap((a) =>
          a.actors.flatMap((actor) => a.contexts.map((c) => [actor, c] as const)),
        );
        const old = pairs.length;
        for (let k = 0; k < old; k += 8) {
          store.put(
            pairs.slice(k, k + 8).map(([actor, context], j) => ({
              subjects: [`old-${k + j}`],
              predicates: ['p'],
              contexts: [context, ...values(`own-${k + j}`, 255)],
              actors: [actor],
            })),
          );
        }
        const payload = JSON.stringify(batch === 1 ? news[0] : news);
        // One untimed put first, in a pair of its own, as for the other shapes: a warm service.
        await app.inject({
          method: 'POST',
          url: '/attestations',
          payload: { subjects: ['warm'], predicates: ['p'], contexts: ['warm'], actors: ['warm'] },
        });
        bodyBytes = Buffer.byteLength(payload);
        const firstSlice = slices.length;
        const start = performance.now();
        const response = await app.inject({
          method: 'POST',
          url: '/attestations',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        // Had a slice run before the reply was sent, it would not count (and it is said).
        const meanwhile = slices.slice(firstSlice).filter((sl) => sl.at <= sentAt);
        if (meanwhile.length > 0) process.stderr.write(`${meanwhile.length} slices ran before the reply\n`);
        requests.push(sentAt - start - meanwhile.reduce((n, sl) => n + sl.ms, 0));
        status = response.statusCode;
        if (status !== 201) throw new Error(`the eviction case was refused: ${status} ${response.body}`);
        const keepAlive = setInterval(() => {}, 1000); // the drain's timers are unref'd: keep the process up
        await done;
        clearInterval(keepAlive);
        const sliceRows = slices.slice(firstSlice).reduce((n, sl) => n + sl.rows, 0);
        // What the request wrote, plus what it evicted itself: all the eviction less the slices'.
        const written = batch === 1 ? 516 : batch * (1 + 1 + 1 + 16 + 16 + 256);
        requestRows = written + (old * 516 - sliceRows);
        if (store.stats().attestations !== batch + 1)
          throw new Error('the eviction case did not evict them all');
      } finally {
        await app.close();
        store.close();
        fs.rmSync(database, { force: true });
        fs.rmSync(`${database}-wal`, { force: true });
        fs.rmSync(`${database}-shm`, { force: true });
      }
    }
    const what =
      batch === 1
        ? 'one 256-pair attestation evicting 256 older 256-pair attestations (max_per_actor_context = 1)'
        : `a batch of ${batch} such attestations (16 x 16 pairs each: ${batch * 256} pairs, ${batch * 256} attestations of 256 pairs to evict)`;
    results.push({
      shape: `${what}: the request`,
      rows: requestRows,
      bodyBytes,
      medianMs: median(requests),
      maxMs: Math.max(...requests),
      status,
      kind: 'request',
    });
    const ms = slices.map((sl) => sl.ms);
    results.push({
      shape: `${what}: each background slice (${Math.round(slices.length / repeat)} slices per request, after it)`,
      rows: Math.max(...slices.map((sl) => sl.rows)),
      bodyBytes: 0,
      medianMs: median(ms),
      maxMs: Math.max(...ms),
      status: 0,
      kind: 'slice',
    });
  }
  return results;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** The Markdown table of the results, the worst request (and the worst background slice) in the heading. */
export function worstRequestMarkdown(results: readonly WorstRequestResult[]): string {
  const slowest = (rows: readonly WorstRequestResult[]): WorstRequestResult | undefined =>
    rows.reduce<WorstRequestResult | undefined>(
      (a, b) => (a === undefined || b.maxMs > a.maxMs ? b : a),
      undefined,
    );
  const worst = slowest(results.filter((r) => r.kind !== 'slice')) as WorstRequestResult;
  const slice = slowest(results.filter((r) => r.kind === 'slice'));
  return [
    `## Worst accepted request: ${worst.maxMs.toFixed(1)} ms of event-loop time`,
    '',
    `Load average while it ran: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ', ',
      )} (${os.cpus().length} cores). The most expensive shapes the cost budget accepts (README, "Limits"), each put ${REPEAT} times through the real app (inject: parse, validate, one SQLite transaction, all on the event loop); the eviction cases 3 times, their batch once. The slowest request is "${worst.shape}".${
      slice === undefined
        ? ''
        : ` Evictions past ${EVICTION_LIMITS.maxRowsPerTransaction} rows per transaction run after the request, in background slices through the write gate (one per turn of the event loop, requests served in between): the slowest slice took ${slice.maxMs.toFixed(1)} ms.`
    }`,
    '',
    table(
      ['request', 'rows written or evicted', 'body', 'status', 'median', 'slowest'],
      results.map((r) => [
        r.shape,
        r.rows === 0 ? '-' : String(r.rows),
        r.kind === 'slice' ? '-' : `${(r.bodyBytes / 1024).toFixed(0)} KiB`,
        r.kind === 'slice' ? '-' : String(r.status),
        `${r.medianMs.toFixed(1)} ms`,
        `${r.maxMs.toFixed(1)} ms`,
      ]),
    ),
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const results = await measureWorstRequests(path.join(OUT_DIR, 'work-worst-request'));
  process.stdout.write(`${worstRequestMarkdown(results)}\n`);
}
