import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { AttestationStore } from '../store/index.js';
import { registerAuth } from './auth.js';
import type { BackupService, OffsiteService } from './backup-service.js';
import type { CheckpointService } from './checkpoint-service.js';
import type { ContinuousService } from './continuous-service.js';
import { formatSchemaErrors, registerErrorHandler } from './error-handler.js';
import {
  CONNECTIONS_CHECKING_INTERVAL_MS,
  clientErrorHandler,
  HTTP_LIMITS,
  type HttpLimits,
  refuseWhileClosing,
} from './http-limits.js';
import { registerJsonParser } from './json-body.js';
import { registerMetrics } from './metrics.js';
import { attestationRoutes } from './routes/attestations.js';
import { backupRoutes } from './routes/backups.js';
import { healthRoutes } from './routes/health.js';
import { offsiteRoutes } from './routes/offsite.js';

/** What the HTTP API is built on. */
export interface AppDeps {
  readonly store: AttestationStore;
  readonly backups: BackupService;
  /** The WAL checkpoints, for /metrics and /healthz; absent when nothing checkpoints (tests). */
  readonly checkpoints?: CheckpointService | undefined;
  readonly logger: FastifyBaseLogger;
  readonly maxBodyBytes: number;
  readonly maxBatch: number;
  /** When set, every route but /healthz and /metrics needs this bearer token. */
  readonly token: string | undefined;
  /** The off-site uploads, when destinations are configured. */
  readonly offsite?: OffsiteService | undefined;
  /**
   * Called after a write request's commit, before its reply is sent (continuous backup stamps the
   * commit's time here, so a point-in-time restore includes every write acknowledged before it).
   */
  readonly afterWrite?: (() => void) | undefined;
  /** Continuous WAL shipping, when a continuous destination is configured: positions and off-site waits. */
  readonly continuous?: ContinuousService | undefined;
  /** Timeouts and the connection cap; HTTP_LIMITS when not given. */
  readonly http?: Partial<HttpLimits> | undefined;
}

/** Builds the HTTP API; listening and shutdown are the caller's. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const limits = { ...HTTP_LIMITS, ...deps.http };
  const app = Fastify({
    http: {
      // Node wants headersTimeout <= requestTimeout, and applies it to a stalled body too.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
      maxHeaderSize: 16 * 1024,
    },
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    forceCloseConnections: 'idle',
    return503OnClosing: false, // refuseWhileClosing answers with an ats code instead
    clientErrorHandler,
    loggerInstance: deps.logger,
    // Metrics count requests; the log keeps errors and backups.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.maxBodyBytes,
    // Refuse what does not match a schema: no silent coercion of types, no dropping of unknown fields.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true },
    },
    schemaErrorFormatter: formatSchemaErrors,
  });
  app.server.maxConnections = limits.maxConnections;
  app.removeContentTypeParser('text/plain'); // JSON only: anything else is a 415
  registerJsonParser(app);
  registerErrorHandler(app);
  refuseWhileClosing(app);
  registerAuth(app, deps.token);
  const afterWrite = deps.afterWrite;
  if (afterWrite !== undefined)
    app.addHook('onSend', async (request, _reply, payload) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') afterWrite();
      return payload;
    });
  registerMetrics(app, deps.backups, deps.checkpoints, deps.offsite);
  // Closing answers every wait for off-site durability at once (503), so no wait holds the close.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  await app.register(healthRoutes(deps.store, deps.checkpoints, deps.continuous));
  await app.register(attestationRoutes(deps.store, deps.maxBatch, deps.continuous, closing.signal));
  await app.register(offsiteRoutes(deps.continuous, closing.signal));
  await app.register(backupRoutes(deps.backups, deps.offsite));
  return app;
}
