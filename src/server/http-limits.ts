import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

/** How long a client may take and how many may connect, so slow or stalled clients cannot pile up. */
export interface HttpLimits {
  /** The request line and headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (a stalled body gets 408). */
  readonly requestTimeoutMs: number;
  /** A socket with no traffic either way (a client that stops reading a reply, too) is closed after this. */
  readonly idleTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Connections beyond this are dropped at once, keeping file descriptors for the database and backups. */
  readonly maxConnections: number;
  /** On shutdown, requests in flight get this long to finish; then their connections are closed. */
  readonly shutdownGraceMs: number;
}

/** The limits `ats serve` runs with. */
export const HTTP_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
  shutdownGraceMs: 10_000,
});

/** Node checks the timeouts above this often; its default of 30 s would let them run long. */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;

/**
 * Answers errors Node's HTTP parser finds before a request reaches Fastify (a stalled request,
 * oversized headers, garbage) with ats codes, then closes the socket.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const refusal =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new HttpError('ATS_HTTP_TIMEOUT', 'the request did not arrive in time; send it at once')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new HttpError('ATS_HTTP_HEADERS_TOO_LARGE', 'the request headers are too large')
        : new HttpError('ATS_HTTP_BAD_REQUEST', `malformed HTTP request (${err.code ?? 'parse error'})`);
  if (socket.writable) {
    const body = JSON.stringify({ error: refusal.code, message: refusal.message });
    socket.write(
      `HTTP/1.1 ${refusal.status} ${refusal.code}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Closes the app within `graceMs`: stop listening and close idle connections at once, answer
 * requests that still arrive with 503, give those in flight `graceMs`, then close what is left.
 */
export async function closeApp(app: FastifyInstance, graceMs: number): Promise<void> {
  const closed = app.close();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  try {
    if ((await Promise.race([closed, late])) === 'late') {
      app.log.warn(
        { event: 'shutdown_forced', graceMs },
        'closing connections still open after the grace period',
      );
      app.server.closeAllConnections();
      await closed;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Once closing starts, a request on a kept-alive connection gets 503 and `Connection: close`. */
export function refuseWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close');
    throw new HttpError('ATS_HTTP_UNAVAILABLE', 'the service is shutting down; retry on another instance');
  });
}
