import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { AttestationStore } from '../../store/index.js';
import type { CheckpointService } from '../checkpoint-service.js';
import { type ContinuousService, formatPosition } from '../continuous-service.js';
import { errorReplies, healthReply, statsReply } from '../schemas.js';

/**
 * `/healthz` for probes and `/stats` for people. /healthz answers 200 while the process serves
 * (reads work even when writes are paused); `status` is "degraded" while writes are refused, the
 * checkpoint worker keeps failing or continuous shipping keeps failing, and `wal` / `continuous`
 * say which (a failure's reason, which may name paths, goes to the log only).
 */
export function healthRoutes(
  store: AttestationStore,
  checkpoints: CheckpointService | undefined,
  continuous?: ContinuousService | undefined,
) {
  return async (fastify: FastifyInstance): Promise<void> => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/healthz', { schema: { response: { 200: healthReply, ...errorReplies } } }, async () => {
      const c = continuous?.status();
      const shipping =
        c === undefined
          ? {}
          : {
              continuous: {
                committed: formatPosition(
                  continuous?.commitPosition() ?? { lineage: c.lineage, txid: c.uploadedTxid },
                ),
                uploaded:
                  c.uploadedTxid > 0n ? formatPosition({ lineage: c.lineage, txid: c.uploadedTxid }) : null,
                failing: c.lastError !== undefined,
              },
            };
      const failing = c?.lastError !== undefined;
      if (checkpoints === undefined)
        return { status: failing ? ('degraded' as const) : ('ok' as const), ...shipping };
      const s = checkpoints.status();
      const degraded = s.writesRefused !== undefined || s.worker === 'failed' || failing;
      return {
        ...shipping,
        status: degraded ? ('degraded' as const) : ('ok' as const),
        writes: s.writesRefused === undefined ? ('ok' as const) : ('paused' as const),
        wal: {
          bytes: s.walBytes,
          peakBytes: s.walPeakBytes,
          maxBytes: s.maxWalBytes,
          framesBehind: s.framesBehind,
          restarts: s.restarts,
          secondsSinceRestart: Math.round(s.secondsSinceRestart * 10) / 10,
          writesRefused: s.writesRefused ?? null,
        },
        checkpointWorker: {
          state: s.worker,
          failuresInRow: s.workerFailures,
          lastError: s.lastError ?? null,
        },
      };
    });
    app.get('/stats', { schema: { response: { 200: statsReply, ...errorReplies } } }, async () =>
      store.stats(),
    );
  };
}
