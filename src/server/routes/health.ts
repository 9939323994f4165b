import type { FastifyInstance } from 'fastify';
import type { AttestationStore } from '../../store/index.js';
import type { CheckpointService } from '../checkpoint-service.js';

/**
 * `/healthz` for probes and `/stats` for people. /healthz answers 200 while the process serves
 * (reads work even when writes are paused); `status` is "degraded" while writes are refused or the
 * checkpoint worker keeps failing, and `wal` says why.
 */
export function healthRoutes(store: AttestationStore, checkpoints: CheckpointService | undefined) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/healthz', async () => {
      if (checkpoints === undefined) return { status: 'ok' };
      const s = checkpoints.status();
      const degraded = s.writesRefused !== undefined || s.worker === 'failed';
      return {
        status: degraded ? 'degraded' : 'ok',
        writes: s.writesRefused === undefined ? 'ok' : 'paused',
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
    app.get('/stats', async () => store.stats());
  };
}
