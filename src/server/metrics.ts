import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BackupService } from './backup-service.js';
import { errorReplies } from './schemas.js';

/**
 * Prometheus metrics on their own registry (one per app, so tests can build several): backups
 * (count by outcome, duration, bytes, age of the newest), requests (count, latency), and the
 * process defaults (memory, event-loop lag). Registered on the root so its hook sees every route.
 */
export function registerMetrics(app: FastifyInstance, backups: BackupService): void {
  {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const backupsTotal = new Counter({
      name: 'ats_backups_total',
      help: 'Backups finished, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'ats_backup_duration_seconds',
      help: 'Duration of successful backups',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    const bytes = new Gauge({
      name: 'ats_backup_bytes',
      help: 'Size of the newest backup',
      registers: [registry],
    });
    new Gauge({
      name: 'ats_backup_running',
      help: '1 while a backup runs',
      registers: [registry],
      collect() {
        this.set(backups.running ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ats_backup_newest_age_seconds',
      help: 'Age of the newest backup file (-1: none)',
      registers: [registry],
      collect() {
        const newest = backups.files()[0];
        // A backup dated in the future is age 0, never negative (an "older than" alert must still fire later).
        this.set(
          newest ? Math.max(0, Date.now() - Date.parse(newest.createdAt ?? newest.modifiedAt)) / 1000 : -1,
        );
      },
    });
    backupsTotal.inc({ outcome: 'success' }, 0);
    backupsTotal.inc({ outcome: 'failure' }, 0);
    backups.on('success', (result) => {
      backupsTotal.inc({ outcome: 'success' });
      duration.observe(result.durationMs / 1000);
      bytes.set(result.bytes);
    });
    backups.on('failure', () => backupsTotal.inc({ outcome: 'failure' }));

    const requests = new Counter({
      name: 'ats_http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'ats_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    });
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ method: request.method, route, status: reply.statusCode });
      latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      { schema: { response: { 200: { type: 'string' }, ...errorReplies } } },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
    );
  }
}
