import type { FastifyError, FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify';
import { AtsError } from '../errors/index.js';
import { HttpError, type HttpErrorCode } from './http-error.js';

/** Fastify's own error codes, as ats codes: clients see one vocabulary. */
const FASTIFY_CODES: Readonly<Record<string, HttpErrorCode>> = Object.freeze({
  FST_ERR_VALIDATION: 'ATS_HTTP_INVALID',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ATS_HTTP_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ATS_HTTP_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ATS_HTTP_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ATS_HTTP_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'ATS_HTTP_BAD_JSON',
  FST_ERR_BAD_URL: 'ATS_HTTP_BAD_REQUEST',
  FST_ERR_NOT_FOUND: 'ATS_HTTP_NOT_FOUND',
});

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 1;

/** The ats error a thrown value stands for: ats errors as they are, Fastify's mapped by code. */
export function toAtsError(err: unknown, contentType: string | undefined): AtsError {
  if (err instanceof AtsError) return err;
  const fastify = err as Partial<FastifyError> | undefined;
  const status = typeof fastify?.statusCode === 'number' ? fastify.statusCode : 500;
  const mapped = fastify?.code === undefined ? undefined : FASTIFY_CODES[fastify.code];
  if (fastify?.validation) return new HttpError('ATS_HTTP_INVALID', String(fastify.message), { cause: err });
  if (mapped === 'ATS_HTTP_UNSUPPORTED_MEDIA_TYPE')
    return new HttpError(
      mapped,
      `unsupported content type ${JSON.stringify(contentType ?? '')}: send application/json`,
      { cause: err },
    );
  if (mapped === 'ATS_HTTP_BAD_JSON' && fastify?.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return new HttpError(mapped, 'body is not valid JSON', { cause: err });
  if (mapped !== undefined) return new HttpError(mapped, String(fastify?.message), { cause: err });
  if (err instanceof SyntaxError && status === 400)
    return new HttpError('ATS_HTTP_BAD_JSON', `body is not valid JSON: ${err.message}`, { cause: err });
  if (status >= 400 && status < 500)
    return new HttpError('ATS_HTTP_BAD_REQUEST', String(fastify?.message), { cause: err });
  return new HttpError('ATS_HTTP_INTERNAL', 'internal error; see the server log', { cause: err });
}

/** Sends an ats error: `{ error: code, message }` with its status; 5xx say only what kind of failure. */
export function sendError(reply: FastifyReply, err: AtsError): FastifyReply {
  const status = err.status;
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  if (status === 507) reply.header('retry-after', String(FULL_RETRY_AFTER_SECONDS));
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  const message =
    status >= 500 && !PUBLIC_5XX.has(err.code)
      ? (HIDDEN_BY_CODE[err.code] ?? HIDDEN[status] ?? 'internal error; see the server log')
      : err.message;
  return reply.status(status).send({ error: err.code, message });
}

/** What a 5xx says: the kind of failure, never paths, SQL or stacks. */
const HIDDEN: Readonly<Record<number, string>> = Object.freeze({
  500: 'internal error; see the server log',
  503: 'the service is busy or shutting down; retry shortly',
  507: 'the disk is full; nothing was written',
});

/** Refusals that say more than their status, still without paths: nothing was written, retry. */
const HIDDEN_BY_CODE: Readonly<Record<string, string>> = Object.freeze({
  ATS_STORE_BUSY: 'the database is locked by another process; nothing was written, retry later',
  ATS_STORE_WAL_CAP:
    'writes are paused until the write-ahead log is checkpointed; nothing was written, retry later',
  ATS_STORE_FULL: 'the disk is full; nothing was written, retry once space is freed',
});
/** 5xx whose messages the routes compose from what the client sent (a position, a timeout): never paths. */
const PUBLIC_5XX = new Set<string>(['ATS_HTTP_OFFSITE_TIMEOUT', 'ATS_HTTP_OFFSITE_FAILED']);
/** A full disk is not freed in a second. */
const FULL_RETRY_AFTER_SECONDS = 5;
/** States of the service rather than bugs: under load they come by the thousand, so logged sparingly. */
const REFUSALS = new Set([...Object.keys(HIDDEN_BY_CODE), ...PUBLIC_5XX]);
const REFUSAL_LOG_EVERY_MS = 10_000;

/** One place that turns errors into responses: 4xx say what was wrong, 5xx hide details. */
export function registerErrorHandler(app: FastifyInstance): void {
  const refusalLoggedAt = new Map<string, number>();
  app.setErrorHandler((err: unknown, request, reply) => {
    const ats = toAtsError(err, request.headers['content-type']);
    if (REFUSALS.has(ats.code)) {
      const now = Date.now();
      if (now - (refusalLoggedAt.get(ats.code) ?? 0) >= REFUSAL_LOG_EVERY_MS) {
        refusalLoggedAt.set(ats.code, now);
        request.log.warn(
          { event: 'write_refused', code: ats.code, status: ats.status, reason: ats.message },
          'write refused (logged once per 10 s and code)',
        );
      }
    } else if (ats.status >= 500) request.log.error({ err, code: ats.code }, 'request failed');
    return sendError(reply, ats);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new HttpError('ATS_HTTP_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
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
