// HTTP load child: POSTs one small attestation per request to the service at a fixed rate, on
// 127.0.0.1 only, bounded in time and count. On finishing it writes [monotonic end ms, latency ms,
// HTTP status (0 = network error)] triples (float64) to --out and prints a JSON summary.
// Usage: node http-load-process.js --port N --rate R --seconds S --out FILE
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { AttestationGenerator } from '../ats-rows.js';
import { nowMs } from '../clock.js';

const MAX_IN_FLIGHT = 64;
const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    out: { type: 'string' },
  },
});
const port = Number(values.port);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
if (!(port > 0) || !(rate > 0) || !(seconds > 0) || !values.out)
  throw new Error('http-load-process: --port, --rate, --seconds and --out are required');
const outFile = values.out;
const maxRequests = Math.ceil(rate * seconds);

const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
const gen = new AttestationGenerator(7);
const results: number[] = [];
let sent = 0;
let inFlight = 0;
let skipped = 0;
const started = nowMs();

function send(): void {
  const body = JSON.stringify(gen.next());
  const t0 = nowMs();
  inFlight++;
  const done = (status: number): void => {
    inFlight--;
    const t1 = nowMs();
    results.push(t1, t1 - t0, status);
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
}

// Open loop: requests leave on the clock whatever the answers do (up to MAX_IN_FLIGHT waiting).
function tick(): void {
  const due = Math.min(maxRequests, Math.floor(((nowMs() - started) * rate) / 1000));
  while (sent < due) {
    sent++;
    if (inFlight >= MAX_IN_FLIGHT) skipped++;
    else send();
  }
  if (sent < maxRequests) setTimeout(tick, 1);
  else drain();
}

function drain(): void {
  if (inFlight > 0 && nowMs() - started < (seconds + 10) * 1000) return void setTimeout(drain, 5);
  fs.writeFileSync(outFile, Float64Array.from(results));
  agent.destroy();
  process.stdout.write(
    `${JSON.stringify({ sent, answered: results.length / 3, skipped, unanswered: inFlight })}\n`,
  );
  process.exit(0);
}

tick();
