import { Worker } from 'node:worker_threads';
import { answerDescriptorRequest, newDescriptorChannel } from './block-copy/shm-registry.js';
import type { CopyRequest, CopyResult } from './copy-request.js';
import { BackupError, type BackupErrorCode } from './errors.js';
import type { BackupProgress } from './options.js';

/** What the worker receives. */
export interface CopyWorkerData {
  readonly request: CopyRequest;
  /** One Int32: set to 1 to ask the copy to stop at its next step. */
  readonly cancelBuffer: SharedArrayBuffer;
  /** Where the worker's `-shm` descriptor requests are answered (this thread keeps the descriptors). */
  readonly descriptorChannel: SharedArrayBuffer;
}

/** Everything the worker posts back. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly progress: BackupProgress }
  | { readonly type: 'descriptor'; readonly file: string }
  | { readonly type: 'done'; readonly result: CopyResult }
  | {
      readonly type: 'error';
      readonly error: { code: BackupErrorCode; operation: string; path: string | undefined; reason: string };
    };

/** How long a cancelled copy may take to stop by itself before its worker is terminated. */
const CANCEL_GRACE_MS = 2_000;

/**
 * Runs {@link copySnapshot} in a worker thread so the host's event loop keeps serving. This thread
 * opens and keeps the `-shm` descriptors the worker reads through (Node closes a worker's own
 * descriptors when it exits, which would drop the process's SQLite locks).
 * Aborting `signal` asks the copy to stop at its next step, then terminates the worker. The
 * promise settles only once the worker has exited, so nothing of the copy runs after it.
 */
export function copyInWorker(
  request: CopyRequest,
  opts: { signal?: AbortSignal | undefined; onProgress?: ((p: BackupProgress) => void) | undefined },
): Promise<CopyResult> {
  return new Promise((resolve, reject) => {
    const cancelBuffer = new SharedArrayBuffer(4);
    const descriptorChannel = newDescriptorChannel();
    const data: CopyWorkerData = { request, cancelBuffer, descriptorChannel };
    const worker = new Worker(new URL('./copy-worker.js', import.meta.url), { workerData: data });
    let outcome: { result: CopyResult } | { error: BackupError } | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const fail = (error: BackupError): void => {
      outcome ??= { error };
    };

    const onAbort = (): void => {
      Atomics.store(new Int32Array(cancelBuffer), 0, 1);
      killTimer = setTimeout(() => {
        fail(
          new BackupError('ATS_BACKUP_CANCELLED', 'copy', request.source, 'cancelled (worker terminated)'),
        );
        void worker.terminate();
      }, CANCEL_GRACE_MS);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') opts.onProgress?.(message.progress);
      else if (message.type === 'descriptor') answerDescriptorRequest(descriptorChannel, message.file);
      else if (message.type === 'done') outcome ??= { result: message.result };
      else {
        const e = message.error;
        fail(new BackupError(e.code, e.operation, e.path, e.reason));
      }
    });
    worker.on('error', (err) =>
      fail(new BackupError('ATS_BACKUP_WORKER', 'copy worker', request.source, err.message, { cause: err })),
    );
    worker.on('exit', (code) => {
      opts.signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (outcome && 'result' in outcome) resolve(outcome.result);
      else
        reject(
          outcome?.error ??
            new BackupError(
              'ATS_BACKUP_WORKER',
              'copy worker',
              request.source,
              `exited with code ${code} before finishing`,
            ),
        );
    });
  });
}
