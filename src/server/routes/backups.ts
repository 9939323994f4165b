import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { BackupService } from '../backup-service.js';
import { sendError } from '../error-handler.js';
import { HttpError } from '../http-error.js';
import { errorReplies } from '../schemas.js';

// The records come from the backup job and pass through as they are: objects of any fields.
const record = { type: ['object', 'null'], additionalProperties: true } as const;
const backupsReply = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'intervalSeconds', 'running', 'nextDueAt', 'last', 'lastFailure', 'files'],
  properties: {
    enabled: { type: 'boolean' },
    intervalSeconds: { type: 'number' },
    running: { type: 'boolean' },
    nextDueAt: { type: ['string', 'null'] },
    last: record,
    lastFailure: record,
    files: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;
const startedReply = {
  type: 'object',
  additionalProperties: false,
  required: ['started'],
  properties: { started: { type: 'boolean' } },
} as const;

/** `/backups`: what the periodic backup did and will do, and a way to start one now. */
export function backupRoutes(backups: BackupService) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/backups', { schema: { response: { 200: backupsReply, ...errorReplies } } }, async () => {
      const nextDue = backups.nextDueAt;
      return {
        enabled: backups.intervalSeconds > 0,
        intervalSeconds: backups.intervalSeconds,
        running: backups.running,
        nextDueAt: nextDue === undefined ? null : new Date(nextDue).toISOString(),
        last: (backups.last ?? null) as Record<string, unknown> | null,
        lastFailure: (backups.lastFailure ?? null) as Record<string, unknown> | null,
        files: backups.files() as unknown as Record<string, unknown>[],
      };
    });

    app.post(
      '/backups',
      { schema: { response: { 202: startedReply, ...errorReplies } } },
      async (_request, reply) => {
        if (!backups.start())
          return sendError(reply, new HttpError('ATS_HTTP_CONFLICT', 'a backup is already running'));
        return reply.status(202).send({ started: true });
      },
    );
  };
}
