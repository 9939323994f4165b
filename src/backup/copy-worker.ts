import { parentPort, workerData } from 'node:worker_threads';
import { askParent } from './block-copy/shm-registry.js';
import type { CopyWorkerData, WorkerMessage } from './copy-in-worker.js';
import { BackupError, reasonOf } from './errors.js';
import { copySnapshot } from './snapshot-copy.js';

// Worker entry: runs one snapshot copy off the host's main thread and reports back.
const data = workerData as CopyWorkerData;
const cancelFlag = new Int32Array(data.cancelBuffer);
const post = (message: WorkerMessage): void => parentPort?.postMessage(message);

copySnapshot(data.request, {
  cancelled: () => Atomics.load(cancelFlag, 0) !== 0,
  progress: (progress) => post({ type: 'progress', progress }),
  descriptors: askParent(data.descriptorChannel, (file) => post({ type: 'descriptor', file })),
}).then(
  (result) => post({ type: 'done', result }),
  (err: unknown) =>
    post({
      type: 'error',
      error:
        err instanceof BackupError
          ? { code: err.code, operation: err.operation, path: err.path, reason: err.reason }
          : { code: 'ATS_BACKUP_COPY', operation: 'copy', path: data.request.source, reason: reasonOf(err) },
    }),
);
