// Writer child: commits small ATS-like inserts, each its own transaction (WAL,
// synchronous=NORMAL, SQLite's default auto-checkpoint unless told otherwise), either as fast as it can or at a fixed rate, and
// records every commit's latency. Prints "ready" after its first commit; on SIGTERM it writes the
// samples ([monotonic ms, latency ms] pairs, float64) to --out and prints a JSON summary.
// Usage: node writer-process.js --db FILE --rate full|N --out FILE [--autocheckpoint PAGES] [--max-seconds S]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { AttestationGenerator, prepareInsert } from '../ats-rows.js';
import { nowMs } from '../clock.js';
import { SampleBuffer } from '../sample-buffer.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    rate: { type: 'string' },
    out: { type: 'string' },
    'max-seconds': { type: 'string', default: '900' },
    autocheckpoint: { type: 'string', default: '1000' },
  },
});
if (!values.db || !values.rate || !values.out)
  throw new Error('writer-process: --db, --rate and --out are required');
const rate = values.rate === 'full' ? Infinity : Number(values.rate);
if (!(rate > 0))
  throw new Error(`writer-process: --rate must be "full" or a positive number (got ${values.rate})`);
const outFile = values.out;

const db = new Database(values.db, { timeout: 5000 });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
// SQLite's default is 1000 pages: the commit that crosses it checkpoints inline. 0 turns that off
// (to profile how much of the writer's latency is its own checkpointing).
db.pragma(`wal_autocheckpoint = ${Number(values.autocheckpoint)}`);
const insert = prepareInsert(db, 'writer');
const gen = new AttestationGenerator(process.pid);
const samples = new SampleBuffer();
const stopAt = nowMs() + Number(values['max-seconds']) * 1000;
let errors = 0;
let firstError: string | undefined;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

function commitOne(): void {
  const attestation = gen.next();
  const id = gen.id();
  const started = nowMs();
  try {
    insert(attestation, id);
    const ended = nowMs();
    samples.push(ended, ended - started);
    if (samples.count === 1) process.stdout.write('ready\n');
  } catch (err) {
    errors++;
    firstError ??= err instanceof Error ? err.message : String(err);
  }
}

function finish(): void {
  db.close();
  fs.writeFileSync(outFile, samples.toArray());
  process.stdout.write(`${JSON.stringify({ commits: samples.count, errors, firstError })}\n`);
}

// Full speed: commit in 20 ms bursts, yielding between them only so SIGTERM can be seen.
function fullSpeed(): void {
  const end = nowMs() + 20;
  while (nowMs() < end) commitOne();
  if (stopping || nowMs() > stopAt) {
    finish();
    return;
  }
  setImmediate(fullSpeed);
}

// Fixed rate: commit whatever is due by the clock, then sleep until the next one is.
const interval = 1000 / rate;
const startedAt = nowMs();
let due = 0;
function fixedRate(): void {
  const now = nowMs();
  while (startedAt + due * interval <= now) {
    commitOne();
    due++;
  }
  if (stopping || now > stopAt) {
    finish();
    return;
  }
  setTimeout(fixedRate, Math.max(0, startedAt + due * interval - nowMs()));
}

if (rate === Infinity) fullSpeed();
else fixedRate();
