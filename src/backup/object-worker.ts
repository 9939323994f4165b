import crypto from 'node:crypto';
import fs from 'node:fs';
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { BackupError, type BackupErrorCode, reasonOf } from './errors.js';
import { FrameDecoder, FrameEncoder, freeNow } from './object-codec.js';
import type { EncryptionKey } from './object-crypto.js';
import type { ObjectHeader } from './object-format.js';
import type { PlainFacts } from './object-stream.js';

// Worker entry: the CPU work of remote backup objects (SHA-256, zstd, AES-GCM) off the host's
// event loop. The host thread keeps the file descriptors (this thread reads and writes them by
// number and never closes them) and only moves bytes between the file's worker and the network.

/** An encryption key as it crosses to the worker. */
export interface KeyData {
  readonly key: Uint8Array;
  readonly keyId: string;
  readonly from: string;
}

/** What the worker is asked to do. */
export type ObjectWorkerData =
  | { readonly task: 'facts'; readonly fd: number; readonly file: string }
  | {
      readonly task: 'encode';
      readonly fd: number;
      readonly file: string;
      readonly header: ObjectHeader;
      readonly headerBytes: Uint8Array;
      readonly key: KeyData | undefined;
      readonly level: number;
      /** Int32 [0]: 1 = stop; [1]: messages the host has finished with (credit for `window` more). */
      readonly control: SharedArrayBuffer;
      readonly window: number;
      /** Where the host gives back the frame buffers it has finished with (ArrayBuffer[] messages), for reuse. */
      readonly returns: MessagePort;
    }
  | {
      readonly task: 'decode';
      /** Where the plaintext goes (written by position from 0); undefined: checked and discarded. */
      readonly fd: number | undefined;
      readonly where: string;
      readonly key: KeyData | undefined;
    };

/** A BackupError as it crosses threads. */
export interface ErrorData {
  readonly code: BackupErrorCode;
  readonly operation: string;
  readonly path: string | undefined;
  readonly reason: string;
}

/** What the worker posts. */
export type ObjectWorkerMessage =
  | { readonly type: 'facts'; readonly facts: PlainFacts }
  | { readonly type: 'data'; readonly chunks: Uint8Array[] }
  | { readonly type: 'end' }
  | { readonly type: 'header'; readonly header: ObjectHeader }
  /** A message of the host's was read; `buffers` are given back (the host's batches among them). */
  | { readonly type: 'ack'; readonly plainBytes: number; readonly buffers: ArrayBuffer[] }
  | { readonly type: 'done'; readonly header: ObjectHeader }
  | { readonly type: 'error'; readonly error: ErrorData };

/** What the host posts to a decode worker. */
export type ObjectHostMessage =
  | { readonly type: 'data'; readonly chunk: Uint8Array }
  | { readonly type: 'end' };

/** Bytes per read of the local file. */
const READ_BYTES = 1 << 20;

const data = workerData as ObjectWorkerData;
const port = parentPort;
const post = (message: ObjectWorkerMessage, transfer?: ArrayBuffer[]): void =>
  port?.postMessage(message, transfer);

function keyOf(k: KeyData | undefined): EncryptionKey | undefined {
  return k && Object.freeze({ key: Buffer.from(k.key), keyId: k.keyId, from: k.from });
}

function report(err: unknown, code: BackupErrorCode, operation: string, path: string | undefined): void {
  post({
    type: 'error',
    error:
      err instanceof BackupError
        ? { code: err.code, operation: err.operation, path: err.path, reason: err.reason }
        : { code, operation, path, reason: reasonOf(err) },
  });
}

/** Reads the whole file once: its length, SHA-256, and the page size and count in its header. */
function facts(fd: number): PlainFacts {
  const hash = crypto.createHash('sha256');
  const buffer = Buffer.allocUnsafeSlow(READ_BYTES);
  let bytes = 0;
  let first: Buffer | undefined;
  for (;;) {
    const n = fs.readSync(fd, buffer, 0, buffer.length, bytes);
    if (n === 0) break;
    if (first === undefined) first = Buffer.from(buffer.subarray(0, Math.min(n, 100)));
    hash.update(buffer.subarray(0, n));
    bytes += n;
  }
  const raw = first && first.length >= 32 ? first.readUInt16BE(16) : 0;
  const pageSize = raw === 1 ? 65_536 : raw;
  const pageCount = first && first.length >= 32 ? first.readUInt32BE(28) : 0;
  return { bytes, sha256: hash.digest('hex'), pageSize, pageCount };
}

/** Chunks at least this long own their ArrayBuffer (the encoder's frames); shorter ones may be pool slices. */
const MOVABLE_BYTES = 64 << 10;

/** `chunk`, or a copy of it when it may share its ArrayBuffer (a pool slice) and so cannot be moved. */
function ownMemory(chunk: Buffer): Buffer {
  if (chunk.length >= MOVABLE_BYTES) return chunk;
  const copy = Buffer.allocUnsafeSlow(chunk.length);
  chunk.copy(copy);
  return copy;
}

function encode(d: Extract<ObjectWorkerData, { task: 'encode' }>): void {
  const control = new Int32Array(d.control);
  const cancelled = (): BackupError => new BackupError('ATS_BACKUP_CANCELLED', 'upload', d.file, 'cancelled');
  let sent = 0;
  let encoder: FrameEncoder | undefined;
  const takeReturns = (): void => {
    for (let m = receiveMessageOnPort(d.returns); m; m = receiveMessageOnPort(d.returns))
      for (const buffer of m.message as ArrayBuffer[]) encoder?.reuse(buffer);
  };
  const emit = (chunks: Buffer[]): void => {
    for (;;) {
      takeReturns();
      if (Atomics.load(control, 0) !== 0) throw cancelled();
      const taken = Atomics.load(control, 1);
      if (sent - taken < d.window) break;
      Atomics.wait(control, 1, taken, 1_000);
    }
    // Moved, not copied (bar a few small pieces). The host gives frame buffers back once the
    // upload has copied them, and the encoder fills them again: in steady state an upload
    // allocates nothing per frame, so no garbage builds up for either thread's collector.
    const movable = chunks.map(ownMemory);
    post({ type: 'data', chunks: movable }, [...new Set(movable.map((c) => c.buffer as ArrayBuffer))]);
    sent++;
  };
  const header = d.header;
  emit([Buffer.from(d.headerBytes)]);
  encoder = new FrameEncoder(Buffer.from(d.headerBytes), header, keyOf(d.key), d.level, emit);
  const buffer = Buffer.allocUnsafeSlow(READ_BYTES);
  let plain = 0;
  for (;;) {
    if (Atomics.load(control, 0) !== 0) throw cancelled();
    const n = fs.readSync(d.fd, buffer, 0, buffer.length, plain);
    if (n === 0) break;
    encoder.push(buffer.subarray(0, n));
    plain += n;
    if (plain > header.bytes) break;
  }
  if (plain !== header.bytes)
    throw new BackupError(
      'ATS_BACKUP_COPY',
      'upload',
      header.source,
      `the file changed while it was uploaded (${plain} bytes read, ${header.bytes} expected)`,
    );
  encoder.finish(header.bytes, header.sha256);
  post({ type: 'end' });
}

function decode(d: Extract<ObjectWorkerData, { task: 'decode' }>): void {
  const fd = d.fd;
  const write =
    fd === undefined
      ? () => {}
      : (chunk: Buffer, offset: number) => {
          let done = 0;
          while (done < chunk.length)
            done += fs.writeSync(fd, chunk, done, chunk.length - done, offset + done);
        };
  // A decrypted frame is freed as soon as it is written, not left to this thread's collector.
  const decoder = new FrameDecoder(
    d.where,
    keyOf(d.key),
    write,
    (header) => post({ type: 'header', header }),
    freeNow,
  );
  port?.on('message', (message: ObjectHostMessage) => {
    try {
      if (message.type === 'data') {
        const chunk = message.chunk;
        decoder.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        // The batch goes back for reuse.
        const buffers = [chunk.buffer as ArrayBuffer];
        post({ type: 'ack', plainBytes: decoder.plainBytes, buffers }, buffers);
      } else {
        post({ type: 'done', header: decoder.end() });
        port.close();
      }
    } catch (err) {
      report(err, fd === undefined ? 'ATS_BACKUP_OBJECT' : 'ATS_BACKUP_DEST', 'restore', d.where);
      port.close();
    }
  });
}

try {
  if (data.task === 'facts') post({ type: 'facts', facts: facts(data.fd) });
  else if (data.task === 'encode') encode(data);
  else decode(data);
} catch (err) {
  report(err, 'ATS_BACKUP_SOURCE', 'read backup', 'file' in data ? data.file : undefined);
}
