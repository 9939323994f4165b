import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BackupService, OffsiteService } from './backup-service.js';
import type { CheckpointService } from './checkpoint-service.js';
import { errorReplies } from './schemas.js';

/**
 * Prometheus metrics on their own registry (one per app, so tests can build several): backups
 * (count by outcome, duration, bytes, age of the newest), requests (count, latency), and the
 * process defaults (memory, event-loop lag). Registered on the root so its hook sees every route.
 */
export function registerMetrics(
  app: FastifyInstance,
  backups: BackupService,
  checkpoints: CheckpointService | undefined,
  offsite?: OffsiteService,
): void {
  {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    if (checkpoints !== undefined) registerCheckpointMetrics(registry, checkpoints);
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

    if (offsite) registerOffsiteMetrics(registry, offsite);

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

/** The WAL and its checkpoints: steps by mode and result, size, peak, cap, frames behind, restarts. */
function registerCheckpointMetrics(registry: Registry, checkpoints: CheckpointService): void {
  const steps = new Counter({
    name: 'ats_checkpoints_total',
    help: 'WAL checkpoint steps, by mode (PASSIVE, RESTART, TRUNCATE) and result (done, busy, failed)',
    labelNames: ['mode', 'result'],
    registers: [registry],
  });
  for (const mode of ['PASSIVE', 'RESTART', 'TRUNCATE'])
    for (const result of ['done', 'busy', 'failed']) steps.inc({ mode, result }, 0);
  checkpoints.on('step', (mode, result) => steps.inc({ mode, result }));
  const holds = new Histogram({
    name: 'ats_write_hold_seconds',
    help: 'How long new writes were held while a checkpoint restarted or truncated the WAL',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
    registers: [registry],
  });
  checkpoints.on('hold', (ms) => holds.observe(ms / 1000));
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge('ats_wal_bytes', 'Size of the -wal file', () => checkpoints.status().walBytes);
  gauge('ats_wal_peak_bytes', 'Largest -wal file seen since start', () => checkpoints.status().walPeakBytes);
  gauge(
    'ats_wal_max_bytes',
    'The WAL cap ([Database] max_wal_bytes)',
    () => checkpoints.status().maxWalBytes,
  );
  gauge(
    'ats_wal_frames_behind',
    'Pages of the WAL not yet copied into the database at the last checkpoint (-1: none yet)',
    () => checkpoints.status().framesBehind,
  );
  gauge(
    'ats_wal_restarts',
    'Times the WAL started again from its beginning since start',
    () => checkpoints.status().restarts,
  );
  gauge(
    'ats_wal_seconds_since_restart',
    'Seconds since the WAL last started again from its beginning',
    () => checkpoints.status().secondsSinceRestart,
  );
  gauge('ats_writes_refused', '1 while writes get 503 because the WAL is over its cap', () =>
    checkpoints.status().writesRefused === undefined ? 0 : 1,
  );
  gauge(
    'ats_checkpoint_worker_failures',
    'Checkpoint worker deaths in a row (0: healthy)',
    () => checkpoints.status().workerFailures,
  );
}

/** Per-destination off-site metrics, read from the uploads' state at each scrape. */
function registerOffsiteMetrics(registry: Registry, offsite: OffsiteService): void {
  const labelNames = ['destination'];
  new Counter({
    name: 'ats_offsite_uploads_total',
    help: 'Off-site uploads by destination and outcome (skipped: nothing changed)',
    labelNames: ['destination', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of offsite.status()) {
        this.inc({ destination: d.url, outcome: 'success' }, d.uploads);
        this.inc({ destination: d.url, outcome: 'failure' }, d.failures);
        this.inc({ destination: d.url, outcome: 'skipped' }, d.skipped);
      }
    },
  });
  new Gauge({
    name: 'ats_offsite_last_success_timestamp_seconds',
    help: 'When the last off-site upload (or check that nothing changed) succeeded (0: never)',
    labelNames,
    registers: [registry],
    collect() {
      for (const d of offsite.status())
        this.set({ destination: d.url }, d.lastSuccessAt ? Date.parse(d.lastSuccessAt) / 1000 : 0);
    },
  });
  new Gauge({
    name: 'ats_offsite_last_success_age_seconds',
    help: 'Seconds since the last successful off-site upload (-1: none yet)',
    labelNames,
    registers: [registry],
    collect() {
      for (const d of offsite.status())
        this.set(
          { destination: d.url },
          d.lastSuccessAt ? (Date.now() - Date.parse(d.lastSuccessAt)) / 1000 : -1,
        );
    },
  });
  new Gauge({
    name: 'ats_offsite_last_upload_bytes',
    help: 'Stored bytes of the last off-site upload',
    labelNames,
    registers: [registry],
    collect() {
      for (const d of offsite.status()) this.set({ destination: d.url }, d.lastBytes ?? 0);
    },
  });
  new Gauge({
    name: 'ats_offsite_running',
    help: '1 while an upload to the destination runs',
    labelNames,
    registers: [registry],
    collect() {
      for (const d of offsite.status()) this.set({ destination: d.url }, d.running ? 1 : 0);
    },
  });
}
