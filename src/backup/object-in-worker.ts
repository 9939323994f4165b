import type fs from 'node:fs/promises';
import { MessageChannel, type TransferListItem, Worker } from 'node:worker_threads';
import { BackupError } from './errors.js';
import { FRAME_BUFFER_BYTES } from './object-codec.js';
import type { EncryptionKey } from './object-crypto.js';
import { encodeHeader, type ObjectHeader } from './object-format.js';
import type { PlainFacts } from './object-stream.js';
import type {
  ErrorData,
  KeyData,
  ObjectHostMessage,
  ObjectWorkerData,
  ObjectWorkerMessage,
} from './object-worker.js';

// The host side of object-worker.ts: the SHA-256, zstd and AES-GCM work of remote backup objects
// runs in a worker thread, and this thread only moves bytes between it and the network, so a
// service's event loop keeps answering while it uploads. Memory stays bounded: the worker waits
// for credit before it makes more (upload), and this thread waits for the worker before it sends
// more (download). Every function here settles only once its worker has exited, so nothing of it
// touches a descriptor after the caller closes it.

const WORKER_URL = new URL('./object-worker.js', import.meta.url);
/** Chunks (of about 1 MiB) that may be on their way between the threads, each way. */
const WINDOW = 4;
/** Bytes per message from the network to a decode worker. */
const BATCH_BYTES = 256 * 1024;

function keyData(key: EncryptionKey | undefined): KeyData | undefined {
  return key && { key: new Uint8Array(key.key), keyId: key.keyId, from: key.from };
}

function errorOf(e: ErrorData): BackupError {
  return new BackupError(e.code, e.operation, e.path, e.reason);
}

function crashed(where: string | undefined, reason: string, cause?: unknown): BackupError {
  return new BackupError('ATS_BACKUP_WORKER', 'backup object worker', where, reason, { cause });
}

function start(
  data: ObjectWorkerData,
  transferList: TransferListItem[] = [],
): { worker: Worker; exited: Promise<number> } {
  const worker = new Worker(WORKER_URL, { workerData: data, transferList });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, exited };
}

/** {@link plainFacts} of the file open as `handle`, read and hashed in a worker thread. */
export async function plainFactsInWorker(handle: fs.FileHandle, file: string): Promise<PlainFacts> {
  const { worker, exited } = start({ task: 'facts', fd: handle.fd, file });
  let outcome: { facts: PlainFacts } | { error: BackupError } | undefined;
  worker.on('message', (m: ObjectWorkerMessage) => {
    if (m.type === 'facts') outcome ??= { facts: Object.freeze(m.facts) };
    else if (m.type === 'error') outcome ??= { error: errorOf(m.error) };
  });
  worker.on('error', (err) => {
    outcome ??= { error: crashed(file, err.message, err) };
  });
  const code = await exited;
  if (outcome && 'facts' in outcome) return outcome.facts;
  throw outcome?.error ?? crashed(file, `exited with code ${code} before finishing`);
}

/** An object's bytes as a worker makes them. */
export interface EncodedObject {
  /**
   * The object's bytes, in order. Each chunk is lent: it is valid until the next one is asked
   * for, when its memory goes back to the worker to be filled again (a consumer copies or
   * writes it first, as the destinations' `put` does).
   */
  readonly body: AsyncIterable<Buffer>;
  /** Stops the worker (the body then fails, or ends if it had ended already). */
  stop(): void;
  /** Settles when the worker has exited (after the body ended or `stop`); never rejects. */
  readonly exited: Promise<void>;
}

/**
 * The bytes of an object holding the file open as `handle` (whose facts `header` records), made
 * by a worker thread as they are read (object-stream.ts's encodeObject, off this thread). The
 * body fails (and the worker stops) if the file no longer has the length the header promises
 * (its SHA-256 is the caller's to check: the header's comes from a pass over the file, or the
 * caller hashes the file beside it). At most WINDOW messages of chunks are on their way at once,
 * and frame buffers go back to the worker once used, so an upload of any size runs in a few
 * MiB that it reuses. The caller must call `stop` and await `exited` before it closes `handle`.
 */
export function encodeObjectInWorker(
  handle: fs.FileHandle,
  file: string,
  header: ObjectHeader,
  key: EncryptionKey | undefined,
  level: number,
): EncodedObject {
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  const returns = new MessageChannel();
  const { worker, exited } = start(
    {
      task: 'encode',
      fd: handle.fd,
      file,
      header,
      headerBytes: new Uint8Array(encodeHeader(header)),
      key: keyData(key),
      level,
      control,
      window: WINDOW,
      returns: returns.port2,
    },
    [returns.port2],
  );
  const queue: Uint8Array[][] = [];
  let ended = false;
  let failure: BackupError | undefined;
  let wake: (() => void) | undefined;
  const changed = (): void => {
    wake?.();
    wake = undefined;
  };
  /** Stops the worker unless it has finished, and closes the way frames go back to it. */
  const stop = (): void => {
    returns.port1.close();
    if (ended) return;
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 1);
    void worker.terminate();
  };
  worker.on('message', (m: ObjectWorkerMessage) => {
    if (m.type === 'data') queue.push(m.chunks);
    else if (m.type === 'end') ended = true;
    else if (m.type === 'error') failure ??= errorOf(m.error);
    changed();
  });
  worker.on('error', (err) => {
    failure ??= crashed(file, err.message, err);
    changed();
  });
  const gone = exited.then((code) => {
    if (!ended) failure ??= crashed(file, `exited with code ${code} before finishing`);
    changed();
  });
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunks = queue.shift();
        if (chunks === undefined) {
          if (failure) throw failure;
          if (ended) return;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        for (const c of chunks) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        // Asked for more: the consumer is done with this message's chunks.
        const frames = [...new Set(chunks.map((c) => c.buffer as ArrayBuffer))].filter(
          (b) => b.byteLength === FRAME_BUFFER_BYTES,
        );
        if (frames.length > 0) returns.port1.postMessage(frames, frames);
        Atomics.add(flags, 1, 1);
        Atomics.notify(flags, 1);
      }
    } finally {
      stop();
    }
  }
  return { body: body(), stop, exited: gone };
}

/** Options of {@link decodeObjectInWorker}. */
export interface WorkerDecodeOptions {
  /** Names the object in messages. */
  readonly where: string;
  readonly key: EncryptionKey | undefined;
  /** Receives the plaintext, written from offset 0; omitted: checked and discarded. */
  readonly output?: fs.FileHandle;
  readonly onProgress?: (plainBytes: number, totalBytes: number) => void;
  readonly signal?: AbortSignal;
}

/**
 * object-stream.ts's decodeObject in a worker thread: reads the whole object from `input`, and
 * the worker decrypts, decompresses, checks it end to end and writes the plaintext to `output`.
 * Throws EOBJECT or EKEY as decodeObject does (the caller discards what `output` received), and
 * settles only once the worker has exited.
 */
export async function decodeObjectInWorker(
  input: AsyncIterable<Buffer | Uint8Array>,
  options: WorkerDecodeOptions,
): Promise<ObjectHeader> {
  const { where } = options;
  const { worker, exited } = start({
    task: 'decode',
    fd: options.output?.fd,
    where,
    key: keyData(options.key),
  });
  let failure: BackupError | undefined;
  let result: ObjectHeader | undefined;
  let total = 0;
  let inFlight = 0;
  const pool: ArrayBuffer[] = []; // batches the worker gave back
  let waiters: (() => void)[] = [];
  const wake = (): void => {
    const all = waiters;
    waiters = [];
    for (const w of all) w();
  };
  const changed = (): Promise<void> => new Promise((resolve) => waiters.push(resolve));
  worker.on('message', (m: ObjectWorkerMessage) => {
    if (m.type === 'ack') {
      inFlight--;
      for (const b of m.buffers) if (b.byteLength === BATCH_BYTES && pool.length < WINDOW) pool.push(b);
      options.onProgress?.(m.plainBytes, total);
    } else if (m.type === 'header') total = m.header.bytes;
    else if (m.type === 'done') result = m.header;
    else if (m.type === 'error') failure ??= errorOf(m.error);
    wake();
  });
  worker.on('error', (err) => {
    failure ??= crashed(where, err.message, err);
    wake();
  });
  let gone = false;
  void exited.then((code) => {
    gone = true;
    if (result === undefined) failure ??= crashed(where, `exited with code ${code} before finishing`);
    wake();
  });
  const send = (message: ObjectHostMessage, transfer?: ArrayBuffer[]): void =>
    worker.postMessage(message, transfer);
  const cancelled = (): BackupError =>
    new BackupError('ATS_BACKUP_CANCELLED', 'download', where, 'cancelled');
  try {
    const nextBatch = (): Buffer => {
      const reused = pool.pop();
      return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH_BYTES);
    };
    let batch = nextBatch();
    let filled = 0;
    const flush = async (): Promise<void> => {
      send({ type: 'data', chunk: batch.subarray(0, filled) }, [batch.buffer as ArrayBuffer]);
      inFlight++;
      batch = nextBatch();
      filled = 0;
      while (inFlight >= WINDOW && failure === undefined) await changed();
      if (failure) throw failure;
    };
    for await (const chunk of input) {
      if (failure) throw failure;
      if (options.signal?.aborted) throw cancelled();
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, BATCH_BYTES - filled);
        batch.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === BATCH_BYTES) await flush();
      }
    }
    if (filled > 0) await flush();
    send({ type: 'end' });
    while (result === undefined && failure === undefined && !gone) await changed();
    if (failure) throw failure;
    if (result === undefined) throw crashed(where, 'stopped without an answer');
    return result;
  } finally {
    if (result === undefined) void worker.terminate();
    await exited;
  }
}
