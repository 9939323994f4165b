import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { AttestationStore } from '../../store/index.js';
import { errorReplies, healthReply, statsReply } from '../schemas.js';

/** `/healthz` for probes and `/stats` for people. */
export function healthRoutes(store: AttestationStore) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/healthz', { schema: { response: { 200: healthReply, ...errorReplies } } }, async () => ({
      status: 'ok',
    }));
    app.get('/stats', { schema: { response: { 200: statsReply, ...errorReplies } } }, async () =>
      store.stats(),
    );
  };
}
