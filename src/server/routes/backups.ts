import type { FastifyInstance } from 'fastify';
import type { BackupService } from '../backup-service.js';
import { sendError } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import { errorBody } from '../schemas.js';

/** `/backups`: what the periodic backup did and will do, and a way to start one now. */
export function backupRoutes(backups: BackupService) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/backups', async () => {
      const nextDue = backups.nextDueAt;
      return {
        enabled: backups.intervalSeconds > 0,
        intervalSeconds: backups.intervalSeconds,
        running: backups.running,
        nextDueAt: nextDue === undefined ? null : new Date(nextDue).toISOString(),
        last: backups.last ?? null,
        lastFailure: backups.lastFailure ?? null,
        files: backups.files(),
      };
    });

    app.post('/backups', { schema: { response: { '4xx': errorBody } } }, async (_request, reply) => {
      if (!backups.start())
        return sendError(reply, new HttpError('ATS_HTTP_CONFLICT', 'a backup is already running'));
      return reply.status(202).send({ started: true });
    });
  };
}
