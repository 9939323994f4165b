import type { ServiceBackup, ServiceResult } from '../results.js';
import { request } from './service.js';

/** prom-client's default event-loop sampling interval (collectDefaultMetrics' eventLoopMonitoringPrecision). */
const PROM_RESOLUTION_MS = 10;

/** Event-loop lag of the service since its previous scrape, in ms. */
export interface Lag {
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Scrapes /metrics for prom-client's event-loop lag (which that scrape also restarts); undefined without it. */
export async function eventLoopLag(port: number): Promise<Lag | undefined> {
  const res = await request(port, 'GET', '/metrics').catch(() => undefined);
  const read = (name: string): number | undefined => {
    const match = res && new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, 'm').exec(res.text);
    return match ? Number(match[1]) * 1000 : undefined;
  };
  const p99Ms = read('nodejs_eventloop_lag_p99_seconds');
  const maxMs = read('nodejs_eventloop_lag_max_seconds');
  // prom-client samples every 10 ms and records the time between samples: the delay is the excess.
  const excess = (v: number): number => Math.max(0, v - PROM_RESOLUTION_MS);
  return p99Ms === undefined || maxMs === undefined ? undefined : { p99Ms: excess(p99Ms), maxMs: excess(maxMs) };
}

/** The worst p99 and max of several readings. */
export function worstLag(lags: readonly Lag[]): Lag | undefined {
  return lags.length ? { p99Ms: Math.max(...lags.map((l) => l.p99Ms)), maxMs: Math.max(...lags.map((l) => l.maxMs)) } : undefined;
}

/**
 * The checkpoint job's TRUNCATE runs, from the service's JSON log lines: each holds the write
 * lock, so a request writing meanwhile waits. Split by whether a backup was running.
 */
export function truncatesOf(logs: string, backups: readonly ServiceBackup[], wallToMono: number, from: number): ServiceResult['truncates'] {
  const runs: { at: number; ms: number }[] = [];
  for (const line of logs.split('\n')) {
    if (!line.includes('"checkpoint_truncate"')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string | number; ms?: number };
      const wall = typeof entry.time === 'number' ? entry.time : Date.parse(String(entry.time));
      // The log time is when the checkpoint ended; it ran for `ms` before that.
      if (Number.isFinite(wall) && typeof entry.ms === 'number') runs.push({ at: wall - wallToMono - entry.ms, ms: entry.ms });
    } catch {
      continue; // not a JSON log line
    }
  }
  const measured = runs.filter((r) => r.at >= from);
  const inBackup = measured.filter((r) => backups.some((b) => r.at >= b.startedAt && r.at < b.endedAt));
  const outside = measured.filter((r) => !inBackup.includes(r));
  const maxOf = (list: typeof runs): number | undefined => (list.length ? Math.max(...list.map((r) => r.ms)) : undefined);
  return { duringBackups: inBackup.length, duringMaxMs: maxOf(inBackup), outside: outside.length, outsideMaxMs: maxOf(outside) };
}
