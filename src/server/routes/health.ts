import type { FastifyInstance } from 'fastify';
import type { AttestationStore } from '../../store/index.js';

/** `/healthz` for probes and `/stats` for people. */
export function healthRoutes(store: AttestationStore) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/stats', async () => store.stats());
  };
}
