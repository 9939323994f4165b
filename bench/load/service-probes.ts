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
  return p99Ms === undefined || maxMs === undefined
    ? undefined
    : { p99Ms: excess(p99Ms), maxMs: excess(maxMs) };
}

/** The worst p99 and max of several readings. */
export function worstLag(lags: readonly Lag[]): Lag | undefined {
  return lags.length
    ? { p99Ms: Math.max(...lags.map((l) => l.p99Ms)), maxMs: Math.max(...lags.map((l) => l.maxMs)) }
    : undefined;
}
