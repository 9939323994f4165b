import type { FastifyInstance } from 'fastify';
import type { AttestationInput, AttestationStore } from '../../store/index.js';
import { sendError } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import { attestation, attestationInput, errorBody, idParams } from '../schemas.js';

interface QueryString {
  subject?: string;
  predicate?: string;
  context?: string;
  actor?: string;
  limit?: string;
}

/** `/attestations`: put one or a batch, query, get, delete. */
export function attestationRoutes(store: AttestationStore, maxBatch: number) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: AttestationInput | AttestationInput[] }>(
      '/attestations',
      {
        schema: {
          // if/then/else rather than oneOf, so a bad body gets the errors of its own shape only.
          body: {
            type: ['object', 'array'],
            if: { type: 'array' },
            // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword
            then: { type: 'array', minItems: 1, maxItems: maxBatch, items: attestationInput },
            else: attestationInput,
          },
          response: {
            201: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } },
            '4xx': errorBody,
          },
        },
      },
      async (request, reply) => reply.status(201).send({ ids: await store.putAsync(request.body) }),
    );

    app.get<{ Querystring: QueryString }>(
      '/attestations',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              subject: { type: 'string', minLength: 1, maxLength: 4096 },
              predicate: { type: 'string', minLength: 1, maxLength: 4096 },
              context: { type: 'string', minLength: 1, maxLength: 4096 },
              actor: { type: 'string', minLength: 1, maxLength: 4096 },
              limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
            },
          },
          response: {
            200: { type: 'object', properties: { attestations: { type: 'array', items: attestation } } },
            '4xx': errorBody,
          },
        },
      },
      async (request) => {
        const { limit, ...filters } = request.query;
        return {
          attestations: store.query({ ...filters, ...(limit === undefined ? {} : { limit: Number(limit) }) }),
        };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/attestations/:id',
      {
        schema: { params: idParams, response: { 200: attestation, '4xx': errorBody } },
      },
      async (request, reply) => {
        const found = store.get(request.params.id);
        return found ?? sendError(reply, notFound(request.params.id));
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/attestations/:id',
      {
        schema: { params: idParams, response: { '4xx': errorBody } },
      },
      async (request, reply) => {
        if (!(await store.deleteAsync(request.params.id)))
          return sendError(reply, notFound(request.params.id));
        return reply.status(204).send();
      },
    );
  };
}

function notFound(id: string): HttpError {
  return new HttpError('ATS_HTTP_NOT_FOUND', `no attestation ${id}`);
}
