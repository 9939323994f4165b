/**
 * Named crash points for the fault-injection tests: when ATS_FAULT_POINT is `name` (or `name@N`,
 * the N-th time it is reached), the process kills itself with SIGKILL right there, so a test can
 * crash a real backup between any two of its steps. Unset in production, it costs one env lookup.
 */
const hits = new Map<string, number>();

export function faultPoint(name: string): void {
  const wanted = process.env.ATS_FAULT_POINT;
  if (!wanted) return;
  const [point, nth = '1'] = wanted.split('@');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count === Number(nth)) process.kill(process.pid, 'SIGKILL');
}
