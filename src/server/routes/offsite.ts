import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type ContinuousService,
  formatPosition,
  type OffsitePosition,
  parsePosition,
} from '../continuous-service.js';
import { HttpError } from '../http-error.js';
import { errorReplies, offsiteWaitQuery, offsiteWaitReply } from '../schemas.js';

/** How long a wait lasts when the request gives no `timeout_ms`. */
export const OFFSITE_WAIT_DEFAULT_MS = 10_000;
/** The longest wait a request may ask for (a waiter holds a connection and a timer, no more). */
export const OFFSITE_WAIT_MAX_MS = 60_000;

/** `timeout_ms` as the schema matched it (digits), checked against the maximum. */
export function waitTimeoutMs(text: string | undefined): number {
  if (text === undefined) return OFFSITE_WAIT_DEFAULT_MS;
  const ms = Number(text);
  if (ms > OFFSITE_WAIT_MAX_MS)
    throw new HttpError(
      'ATS_HTTP_INVALID',
      `querystring/timeout_ms ${text} is over the maximum wait of ${OFFSITE_WAIT_MAX_MS} ms`,
    );
  return ms;
}

/**
 * Waits until `position` is off-site and returns where the uploads are; otherwise throws the
 * answer: 504 at the timeout, 503 when an upload failed or the service closes, 404 for a position
 * this server did not hand out. `closing` aborts every wait when the app starts closing; a client
 * that disconnects ends its own wait.
 */
export async function awaitOffsite(
  service: ContinuousService,
  position: OffsitePosition,
  timeoutMs: number,
  closing: AbortSignal,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<OffsitePosition> {
  const gone = new AbortController();
  const onClose = (): void => gone.abort();
  reply.raw.once('close', onClose);
  try {
    const outcome = await service.waitOffsite(position, timeoutMs, AbortSignal.any([closing, gone.signal]));
    const at = formatPosition(position);
    switch (outcome.kind) {
      case 'offsite':
        return outcome.uploaded;
      case 'timeout':
        request.log.warn(
          { event: 'offsite_wait_timeout', position: at, timeoutMs, lastError: outcome.lastError ?? null },
          'a write was not off-site within its wait',
        );
        throw new HttpError(
          'ATS_HTTP_OFFSITE_TIMEOUT',
          `position ${at} is committed here but was not confirmed off-site within ${timeoutMs} ms` +
            `${outcome.lastError === undefined ? '' : ' (the continuous destination is failing; see /healthz)'}` +
            `: GET /offsite/wait?position=${at} waits again`,
        );
      case 'failed':
        request.log.warn(
          { event: 'offsite_wait_failed', position: at, reason: outcome.reason },
          'a write was not off-site: the continuous destination failed',
        );
        throw new HttpError(
          'ATS_HTTP_OFFSITE_FAILED',
          `position ${at} is committed here but the upload to the continuous destination failed ` +
            `(reason in the server log; it is retried each sync interval): GET /offsite/wait?position=${at} waits again`,
        );
      case 'unknown':
        throw new HttpError('ATS_HTTP_OFFSITE_UNKNOWN', `position ${at}: ${outcome.reason}`);
      case 'stopped':
        throw new HttpError(
          'ATS_HTTP_UNAVAILABLE',
          `the service is shutting down before position ${at} was confirmed off-site`,
        );
    }
  } finally {
    reply.raw.removeListener('close', onClose);
  }
}

/** The 404 when no continuous destination is configured. */
export function noContinuous(): HttpError {
  return new HttpError(
    'ATS_HTTP_OFFSITE_UNKNOWN',
    'no continuous destination is configured ([[Database.destination]] continuous = true): nothing is shipped off-site per write',
  );
}

/** `GET /offsite/wait`: answers once a position a write returned is durable off-site. */
export function offsiteRoutes(service: ContinuousService | undefined, closing: AbortSignal) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get(
      '/offsite/wait',
      { schema: { querystring: offsiteWaitQuery, response: { 200: offsiteWaitReply, ...errorReplies } } },
      async (request, reply) => {
        const timeoutMs = waitTimeoutMs(request.query.timeout_ms);
        if (service === undefined) throw noContinuous();
        const position = parsePosition(request.query.position);
        const uploaded = await awaitOffsite(service, position, timeoutMs, closing, request, reply);
        return {
          position: formatPosition(position),
          offsite: true as const,
          uploaded: formatPosition(uploaded),
        };
      },
    );
  };
}
