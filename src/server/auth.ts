import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './error-handler.js';
import { HttpError } from './http-error.js';

/** Routes open without a token: probes and scrapers. */
const OPEN = new Set(['/healthz', '/metrics']);

/** `Bearer <token>`; the scheme is case-insensitive (RFC 9110), one or more spaces after it. */
const BEARER = /^bearer +(\S+) *$/i;

/**
 * When a token is set, every other route needs `Authorization: Bearer <token>`. Tokens are compared
 * as SHA-256 digests with timingSafeEqual: the time taken says nothing of the token's length or
 * of how much of it matched.
 */
export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  if (token === undefined) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    if (OPEN.has(request.url.split('?')[0] ?? '')) return;
    const header = request.headers.authorization;
    const given = header === undefined ? undefined : BEARER.exec(header)?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return;
    const why =
      header === undefined
        ? 'missing bearer token: send Authorization: Bearer <token>'
        : given === undefined
          ? 'the Authorization header is not "Bearer <token>"'
          : 'wrong bearer token';
    return sendError(reply, new HttpError('ATS_HTTP_UNAUTHORIZED', why));
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
