// Sustained-load child: POSTs attestations to the service on 127.0.0.1 with keep-alive, either at a
// fixed rate (--rate R: open loop, one attestation per request, up to 256 waiting) or flat out
// (--clients C: each sends its next request as soon as the previous is answered, --batch B per
// request), for --seconds S. Writes [monotonic end ms, latency ms, HTTP status] triples (float64)
// to --out and prints a JSON summary.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { AttestationGenerator } from '../ats-rows.js';
import { nowMs, sleep } from '../clock.js';

const MAX_IN_FLIGHT = 256;
const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    rate: { type: 'string' },
    clients: { type: 'string' },
    batch: { type: 'string' },
    seconds: { type: 'string' },
    out: { type: 'string' },
  },
});
const port = Number(values.port);
const rate = Number(values.rate ?? 0);
const clients = Number(values.clients ?? 0);
const batch = Number(values.batch ?? 1);
const seconds = Number(values.seconds);
if (!(port > 0) || !(seconds > 0) || !values.out || rate > 0 === clients > 0 || !(batch >= 1))
  throw new Error(
    'sustained-load-process: --port, --seconds, --out and one of --rate or --clients are required',
  );
const outFile = values.out;

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
const gen = new AttestationGenerator(11);
const results: number[] = [];
const started = nowMs();
const end = started + seconds * 1000;
let inFlight = 0;
let skipped = 0;
let attestations = 0;

function send(): Promise<void> {
  const body = JSON.stringify(batch === 1 ? gen.next() : Array.from({ length: batch }, () => gen.next()));
  const t0 = nowMs();
  inFlight++;
  return new Promise((resolve) => {
    const done = (status: number): void => {
      inFlight--;
      const t1 = nowMs();
      results.push(t1, t1 - t0, status);
      if (status === 201) attestations += batch;
      resolve();
    };
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/attestations',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', () => done(0));
      },
    );
    req.on('error', () => done(0));
    req.end(body);
  });
}

async function openLoop(): Promise<void> {
  let sent = 0;
  while (nowMs() < end) {
    const due = Math.floor(((nowMs() - started) * rate) / 1000);
    while (sent < due) {
      sent++;
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else void send();
    }
    await sleep(1);
  }
}

async function closedLoop(): Promise<void> {
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (nowMs() < end) await send();
    }),
  );
}

await (rate > 0 ? openLoop() : closedLoop());
while (inFlight > 0 && nowMs() < end + 10_000) await sleep(5);
fs.writeFileSync(outFile, Float64Array.from(results));
agent.destroy();
process.stdout.write(
  `${JSON.stringify({ requests: results.length / 3, attestations, skipped, unanswered: inFlight })}\n`,
);
process.exit(0);
