import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { AttestationInput, AttestationStore } from '../../store/index.js';
import { sendError } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import {
  attestation,
  errorReplies,
  idParams,
  pageReply,
  putBody,
  putReply,
  queryString,
} from '../schemas.js';

/** `/attestations`: put one or a batch, query a page at a time, get, delete. */
export function attestationRoutes(store: AttestationStore, maxBatch: number) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.post(
      '/attestations',
      { schema: { body: putBody(maxBatch), response: { 201: putReply, ...errorReplies } } },
      // The schema's type says `attributes: unknown` where the store's says an object: the same thing.
      async (request, reply) =>
        reply
          .status(201)
          .send({ ids: await store.putAsync(request.body as AttestationInput | AttestationInput[]) }),
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
