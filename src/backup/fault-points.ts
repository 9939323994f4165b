import fs from 'node:fs';

/**
 * Named fault points for the fault-injection tests. ATS_FAULT_POINT is `name`, `name@N` (the N-th
 * time it is reached), optionally followed by `:pause`:
 * - by default the process kills itself with SIGKILL right there, so a test can crash a real
 *   backup between any two of its steps;
 * - with `:exit` it calls process.exit(70): in a worker thread that ends only the worker, so a
 *   test can kill a worker mid-request;
 * - with `:pause` it writes the point's name to the file ATS_FAULT_MARKER and waits (at most 60 s)
 *   until a test removes that file, so a test can act (send a signal, cancel) at a known step
 *   instead of racing a copy against a poll.
 * Unset in production, it costs one env lookup.
 */
const hits = new Map<string, number>();
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const PAUSE_LIMIT_MS = 60_000;

export function faultPoint(name: string): void {
  const wanted = process.env.ATS_FAULT_POINT;
  if (!wanted) return;
  const [where = '', action = 'kill'] = wanted.split(':');
  const [point, nth = '1'] = where.split('@');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count !== Number(nth)) return;
  if (action === 'pause') pauseHere(name);
  else if (action === 'exit') process.exit(70);
  else process.kill(process.pid, 'SIGKILL');
}

function pauseHere(name: string): void {
  const marker = process.env.ATS_FAULT_MARKER;
  if (!marker) throw new Error(`fault point ${name}: ':pause' needs ATS_FAULT_MARKER, the file to wait on`);
  fs.writeFileSync(marker, name);
  const until = Date.now() + PAUSE_LIMIT_MS;
  while (fs.existsSync(marker) && Date.now() < until) Atomics.wait(sleeper, 0, 0, 5);
}
