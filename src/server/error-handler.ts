import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { StoreError } from '../store/index.js';

/** Status of each store error code; anything else is a 500 whose details stay in the log. */
const STORE_STATUS: Record<string, number> = { EINVALID: 400, EBUSY: 503, EWALCAP: 503, EFULL: 507 };

/**
 * Store refusals that are a state of the service, not a bug: a fixed public message (the store's
 * names paths) and when to retry. Nothing was written; the same request can be sent again.
 */
const UNAVAILABLE: Record<string, { message: string; retryAfterSeconds: number }> = {
  EBUSY: {
    message: 'the database is locked by another process; nothing was written, retry later',
    retryAfterSeconds: 1,
  },
  EWALCAP: {
    message: 'writes are paused until the write-ahead log is checkpointed; nothing was written, retry later',
    retryAfterSeconds: 1,
  },
  EFULL: {
    message: 'the disk is full; nothing was written, retry once space is freed',
    retryAfterSeconds: 5,
  },
};
const LOG_EVERY_MS = 10_000;

/** One place that turns errors into responses: 4xx say what was wrong, 5xx hide details. */
export function registerErrorHandler(app: FastifyInstance): void {
  const loggedAt = new Map<string, number>();
  app.setErrorHandler((err: FastifyError | StoreError, request, reply) => {
    if (err instanceof StoreError) {
      const status = STORE_STATUS[err.code] ?? 500;
      if (status < 500) return reply.status(status).send({ error: err.code, message: err.message });
      const unavailable = UNAVAILABLE[err.code];
      if (unavailable !== undefined) {
        // Under load these come by the thousand: log the first of each kind every 10 s.
        const now = Date.now();
        if (now - (loggedAt.get(err.code) ?? 0) >= LOG_EVERY_MS) {
          loggedAt.set(err.code, now);
          request.log.warn(
            { event: 'write_refused', code: err.code, status, reason: err.message },
            'write refused',
          );
        }
        return reply
          .status(status)
          .header('retry-after', String(unavailable.retryAfterSeconds))
          .send({ error: err.code, message: unavailable.message });
      }
    }
    const status = 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status < 500) {
      if ('validation' in err && err.validation)
        return reply.status(400).send({ error: 'EINVALID', message: err.message });
      const message =
        status === 415
          ? `unsupported content type ${JSON.stringify(request.headers['content-type'] ?? '')}: send application/json`
          : err.message;
      return reply
        .status(status)
        .send({ error: 'code' in err && err.code ? String(err.code) : 'EBADREQUEST', message });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(status).send({ error: 'EINTERNAL', message: 'internal error; see the server log' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: 'ENOTFOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

/** "body/subjects/0 must be string", naming the offending property where ajv knows it. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    const where = `${dataVar}${e.instancePath}`;
    const property = (e.params as { additionalProperty?: string; missingProperty?: string })
      .additionalProperty;
    return property === undefined ? `${where} ${e.message}` : `${where} has unknown property "${property}"`;
  });
  return new Error(parts.join('; '));
}
