import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { AttestationInput, AttestationStore } from '../../store/index.js';
import { type ContinuousService, formatPosition } from '../continuous-service.js';
import { sendError } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import {
  attestation,
  errorReplies,
  idParams,
  pageReply,
  putBody,
  putQuery,
  putReply,
  queryString,
} from '../schemas.js';
import { awaitOffsite, noContinuous, waitTimeoutMs } from './offsite.js';

/** `/attestations`: put one or a batch, query a page at a time, get, delete. */
export function attestationRoutes(
  store: AttestationStore,
  maxBatch: number,
  continuous: ContinuousService | undefined,
  closing: AbortSignal,
) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.post(
      '/attestations',
      {
        schema: {
          body: putBody(maxBatch),
          querystring: putQuery,
          response: { 201: putReply, ...errorReplies },
        },
      },
      async (request, reply) => {
        const durable = request.query.durable === 'offsite';
        // Refused before anything is written.
        const timeoutMs = waitTimeoutMs(request.query.timeout_ms);
        if (request.query.timeout_ms !== undefined && !durable)
          throw new HttpError('ATS_HTTP_INVALID', 'querystring/timeout_ms needs durable=offsite');
        if (durable && continuous === undefined) throw noContinuous();
        // The schema's type says `attributes: unknown` where the store's says an object: the same thing.
        const ids = await store.putAsync(request.body as AttestationInput | AttestationInput[]);
        // Read after the commit: the position of this write's transaction or of a later one.
        const at = continuous?.commitPosition();
        if (durable && continuous !== undefined) {
          if (at === undefined) throw noContinuous();
          await awaitOffsite(continuous, at, timeoutMs, closing, request, reply);
        }
        return reply.status(201).send(at === undefined ? { ids } : { ids, position: formatPosition(at) });
      },
    );

    app.get(
      '/attestations',
      { schema: { querystring: queryString, response: { 200: pageReply, ...errorReplies } } },
      async (request) => {
        const { limit, ...filters } = request.query;
        return store.page({ ...filters, ...(limit === undefined ? {} : { limit: Number(limit) }) });
      },
    );

    app.get(
      '/attestations/:id',
      { schema: { params: idParams, response: { 200: attestation, ...errorReplies } } },
      async (request, reply) => {
        const found = store.get(request.params.id);
        return found ?? sendError(reply, notFound(request.params.id));
      },
    );

    app.delete(
      '/attestations/:id',
      { schema: { params: idParams, response: { 204: { type: 'null' }, ...errorReplies } } },
      async (request, reply) => {
        if (!(await store.deleteAsync(request.params.id)))
          return sendError(reply, notFound(request.params.id));
        return reply.status(204).send(null);
      },
    );
  };
}

function notFound(id: string): HttpError {
  return new HttpError('ATS_HTTP_NOT_FOUND', `no attestation ${id}`);
}
