import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './error-handler.js';
import { HttpError } from './http-error.js';

/** Routes open without a token: probes and scrapers. */
const OPEN = new Set(['/healthz', '/metrics']);

/** When a token is set, every other route needs `Authorization: Bearer <token>`. */
export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  if (token === undefined) return;
  const expected = Buffer.from(`Bearer ${token}`);
  app.addHook('onRequest', async (request, reply) => {
    if (OPEN.has(request.url.split('?')[0] ?? '')) return;
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendError(reply, new HttpError('ATS_HTTP_UNAUTHORIZED', 'missing or wrong bearer token'));
    }
  });
}
