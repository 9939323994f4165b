import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { StoreError } from '../store/index.js';

/** Status of each store error code; anything else is a 500 whose details stay in the log. */
const STORE_STATUS: Record<string, number> = { EINVALID: 400, EBUSY: 503 };

/** One place that turns errors into responses: 4xx say what was wrong, 5xx hide details. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | StoreError, request, reply) => {
    if (err instanceof StoreError) {
      const status = STORE_STATUS[err.code] ?? 500;
      if (status < 500) return reply.status(status).send({ error: err.code, message: err.message });
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
