import crypto from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import zstd from 'zstd-napi/binding.js';
import { BackupError } from './errors.js';
import { ChunkCipher, type EncryptionKey } from './object-crypto.js';
import {
  bad,
  checkTrailer,
  encodeTrailer,
  FRAME_BYTES,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  OBJECT_MAGIC,
  type ObjectHeader,
  parseHeader,
  TRAILER_BYTES,
} from './object-format.js';

// The synchronous core of the object format (object-format.ts), for a worker thread: plaintext in,
// object bytes out, and the reverse, with no streams, no promises and one copy per frame at most.
// The zstd calls write straight into the frame being filled. The bytes it makes are the format
// object-stream.ts writes and reads (the zstd stream may be split into frames differently; the
// format does not depend on where).

/**
 * Receives output: pieces to be written in order. They are the receiver's to keep (never written
 * again unless given back through FrameEncoder.reuse), and each is the only view of its
 * ArrayBuffer unless it is small, so they can be moved to another thread without a copy.
 */
export type Emit = (chunks: Buffer[]) => void;

/** Turns a plaintext, pushed in pieces, into an object's frames, end frame and trailer. */
export class FrameEncoder {
  readonly #cctx = new zstd.CCtx();
  readonly #cipher: ChunkCipher | undefined;
  readonly #emit: Emit;
  #index = 0;
  /** The frame being filled: 4 bytes of length, then up to FRAME_BYTES of zstd output. */
  #frame = newFrame();
  #filled = 0;
  /** A full frame held back: only when more follows is it known not to be the last. */
  #held: Buffer | undefined;
  /** Frame buffers free again (encrypted: a frame's plaintext is not sent, only its ciphertext). */
  readonly #spare: Buffer[] = [];

  /** `headerBytes` as written at the object's start (encrypted chunks are bound to them). */
  constructor(
    headerBytes: Buffer,
    header: ObjectHeader,
    key: EncryptionKey | undefined,
    level: number,
    emit: Emit,
  ) {
    this.#cctx.setParameter(zstd.CParameter.compressionLevel, level);
    this.#cipher =
      header.encryption && key
        ? new ChunkCipher(key, Buffer.from(header.encryption.salt, 'base64'), headerBytes)
        : undefined;
    this.#emit = emit;
  }

  /**
   * Takes back a buffer of an emitted frame that its receiver has finished with, to fill again
   * (anything else, such as ciphertext, is left to the collector). At most a few are kept.
   */
  reuse(buffer: ArrayBuffer): void {
    if (buffer.byteLength === FRAME_BUFFER_BYTES && this.#spare.length < MAX_SPARE_FRAMES)
      this.#spare.push(Buffer.from(buffer));
  }

  push(plain: Uint8Array): void {
    let offset = 0;
    while (offset < plain.length) {
      const [, produced, consumed] = this.#cctx.compressStream2(
        this.#frame.subarray(4 + this.#filled, 4 + FRAME_BYTES),
        plain.subarray(offset),
        zstd.EndDirective.continue,
      );
      this.#filled += produced;
      offset += consumed;
      if (this.#filled === FRAME_BYTES) this.#rotate();
    }
  }

  /** Ends the zstd stream and writes the last frame, the end frame and the trailer. */
  finish(bytes: number, sha256: string): void {
    for (;;) {
      const [remaining, produced] = this.#cctx.compressStream2(
        this.#frame.subarray(4 + this.#filled, 4 + FRAME_BYTES),
        EMPTY,
        zstd.EndDirective.end,
      );
      this.#filled += produced;
      if (this.#filled === FRAME_BYTES) this.#rotate();
      if (remaining === 0) break;
    }
    if (this.#filled > 0) {
      if (this.#held) this.#send(this.#held, false);
      this.#held = this.#frame.subarray(0, 4 + this.#filled);
    }
    if (this.#held) this.#send(this.#held, true);
    this.#held = undefined;
    const tail = Buffer.allocUnsafeSlow(4 + TRAILER_BYTES);
    tail.writeUInt32BE(0); // end frame
    encodeTrailer(bytes, sha256).copy(tail, 4);
    this.#emit([tail]);
  }

  #rotate(): void {
    if (this.#held) this.#send(this.#held, false);
    this.#held = this.#frame.subarray(0, 4 + FRAME_BYTES);
    this.#frame = this.#spare.pop() ?? newFrame();
    this.#filled = 0;
  }

  /** `frame` is 4 bytes of room for the length, then the payload. */
  #send(frame: Buffer, last: boolean): void {
    const index = this.#index++;
    if (!this.#cipher) {
      frame.writeUInt32BE(frame.length - 4);
      this.#emit([frame]);
      return;
    }
    // The sealed chunk goes out in a frame buffer of its own (the cipher's output is copied
    // there and dropped at once), so that it too comes back through reuse() to be filled again.
    const sealed = this.#spare.pop() ?? newFrame();
    let length = 0;
    for (const part of this.#cipher.sealParts(index, last, frame.subarray(4))) {
      part.copy(sealed, 4 + length);
      length += part.length;
      freeNow(part);
    }
    sealed.writeUInt32BE(length);
    this.#emit([sealed.subarray(0, 4 + length)]);
    this.#spare.push(Buffer.from(frame.buffer, 0, frame.buffer.byteLength));
  }
}

const EMPTY = Buffer.alloc(0);

/** A closed port: what is moved into it is dropped. */
const DROP = (() => {
  const { port1, port2 } = new MessageChannel();
  port2.close();
  port1.close();
  return port1;
})();

/**
 * Frees `buffer`'s memory now rather than at the next collection, when it owns its whole
 * ArrayBuffer and nothing else refers to it. The cipher allocates a new buffer for every
 * chunk it seals; left to the collector, V8 lets some 30 MiB of them pile up between
 * collections. Moving an ArrayBuffer into a message on a closed port detaches it (structured
 * serialization happens even then) and drops the message, which frees what it holds.
 */
export function freeNow(buffer: Buffer): void {
  if (buffer.byteOffset === 0 && buffer.length === buffer.buffer.byteLength && buffer.length >= 4096)
    DROP.postMessage(null, [buffer.buffer as ArrayBuffer]);
}

/** Output of decompression, per call. */
const PLAIN_STEP = 1 << 20;

/** A frame buffer: 4 bytes of length, then FRAME_BYTES of payload and room for a GCM tag. */
export const FRAME_BUFFER_BYTES = 4 + FRAME_BYTES + 16;
/** Frame buffers an encoder keeps for reuse. */
const MAX_SPARE_FRAMES = 8;

function newFrame(): Buffer {
  // Its own ArrayBuffer (never a pool slice), so it can be moved to another thread.
  return Buffer.allocUnsafeSlow(FRAME_BUFFER_BYTES);
}

/** What a decoder does with plaintext: `chunk` is only valid during the call. */
export type PlainSink = (chunk: Buffer, offset: number) => void;

type Stage = 'magic' | 'header-length' | 'header' | 'first-length' | 'frame' | 'trailer' | 'done';

/**
 * Reads an object pushed in pieces of any size, checking it as object-stream.ts's decodeObject
 * does, with the same messages: header, each chunk's authentication, frames, trailer, nothing
 * after it, and the plaintext's length and SHA-256. Throws EOBJECT (or EKEY) on the first fault.
 */
export class FrameDecoder {
  readonly #where: string;
  readonly #key: EncryptionKey | undefined;
  readonly #sink: PlainSink;
  readonly #onHeader: (header: ObjectHeader) => void;
  readonly #release: (done: Buffer) => void;
  readonly #queue = new ByteQueue();
  readonly #dctx = new zstd.DCtx();
  readonly #hash = crypto.createHash('sha256');
  readonly #out = Buffer.allocUnsafeSlow(PLAIN_STEP);
  #stage: Stage = 'magic';
  #headerLength = 0;
  #headerBytes: Buffer[] = [];
  #header: ObjectHeader | undefined;
  #cipher: ChunkCipher | undefined;
  #frameLength = 0;
  #index = 0;
  #plain = 0;
  #received = 0;
  /** zstd's hint after the last call: 0 once the stream is complete. */
  #zstdPending = 1;

  constructor(
    where: string,
    key: EncryptionKey | undefined,
    sink: PlainSink,
    onHeader: (header: ObjectHeader) => void = () => {},
    release: (done: Buffer) => void = () => {},
  ) {
    this.#where = where;
    this.#key = key;
    this.#sink = sink;
    this.#onHeader = onHeader;
    this.#release = release;
  }

  get plainBytes(): number {
    return this.#plain;
  }

  /** Reads `bytes`, which are copied as needed: the caller may reuse them once this returns. */
  push(bytes: Buffer): void {
    this.#received += bytes.length;
    this.#queue.push(bytes);
    this.#drain();
  }

  /** The input ended: checks that the object was whole and that its plaintext is the one promised. */
  end(): ObjectHeader {
    const where = this.#where;
    const header = this.#header;
    if (this.#stage !== 'done' || !header) {
      if (this.#received === 0) throw bad(where, 'it is empty (0 bytes)');
      if (this.#stage === 'magic') throw bad(where, 'it does not start like an ats backup object');
      throw bad(where, `it ends inside ${this.#what()} (truncated object)`);
    }
    if (this.#plain !== header.bytes)
      throw bad(where, `it holds ${this.#plain} bytes, its header gives ${header.bytes}`);
    const digest = this.#hash.digest('hex');
    if (digest !== header.sha256)
      throw bad(
        where,
        `its content's SHA-256 ${digest.slice(0, 16)}... differs from its header's ${header.sha256.slice(0, 16)}...`,
      );
    return header;
  }

  #what(): string {
    switch (this.#stage) {
      case 'magic':
      case 'header-length':
      case 'header':
        return 'the header';
      case 'first-length':
        return 'a frame length';
      case 'frame':
        return this.#queue.length < this.#frameLength ? `frame ${this.#index}` : 'a frame length';
      default:
        return 'the trailer';
    }
  }

  #drain(): void {
    const where = this.#where;
    const q = this.#queue;
    for (;;) {
      switch (this.#stage) {
        case 'magic': {
          if (q.length < OBJECT_MAGIC.length) return;
          const magic = q.take(OBJECT_MAGIC.length);
          if (!magic.equals(OBJECT_MAGIC)) throw bad(where, 'it does not start like an ats backup object');
          this.#headerBytes.push(Buffer.from(magic));
          this.#stage = 'header-length';
          break;
        }
        case 'header-length': {
          if (q.length < 4) return;
          const bytes = q.take(4);
          this.#headerLength = bytes.readUInt32BE();
          if (this.#headerLength > MAX_HEADER_BYTES)
            throw bad(where, `its header claims ${this.#headerLength} bytes`);
          this.#headerBytes.push(Buffer.from(bytes));
          this.#stage = 'header';
          break;
        }
        case 'header': {
          if (q.length < this.#headerLength) return;
          const json = q.take(this.#headerLength);
          const header = parseHeader(json, where);
          this.#header = header;
          this.#onHeader(header);
          if (header.encryption)
            this.#cipher = new ChunkCipher(
              requireKey(header, this.#key, where),
              Buffer.from(header.encryption.salt, 'base64'),
              Buffer.concat([...this.#headerBytes, json]),
            );
          this.#headerBytes = [];
          this.#stage = 'first-length';
          break;
        }
        case 'first-length': {
          if (q.length < 4) return;
          this.#frameLength = q.take(4).readUInt32BE();
          if (this.#frameLength === 0) throw bad(where, 'it has no body');
          this.#checkLength();
          this.#stage = 'frame';
          break;
        }
        case 'frame': {
          // A frame is opened only once the next length is known: it says whether this one is the last.
          if (q.length < this.#frameLength + 4) return;
          const payload = q.take(this.#frameLength);
          const next = q.take(4).readUInt32BE();
          const last = next === 0;
          if (this.#cipher) {
            const plain = this.#cipher.open(this.#index, last, payload, where);
            this.#decompress(plain);
            this.#release(plain);
          } else this.#decompress(payload);
          this.#index++;
          this.#frameLength = next;
          if (last) this.#stage = 'trailer';
          else this.#checkLength();
          break;
        }
        case 'trailer': {
          if (q.length < TRAILER_BYTES) return;
          checkTrailer(q.take(TRAILER_BYTES), this.#header as ObjectHeader, where);
          if (this.#zstdPending !== 0)
            throw bad(where, 'its body does not decompress (the zstd stream ends early)');
          this.#stage = 'done';
          break;
        }
        case 'done':
          if (q.length > 0) throw bad(where, 'it has bytes after its trailer');
          return;
      }
    }
  }

  #checkLength(): void {
    if (this.#frameLength > MAX_FRAME_BYTES)
      throw bad(this.#where, `frame ${this.#index} claims ${this.#frameLength} bytes`);
  }

  #decompress(payload: Buffer): void {
    const header = this.#header as ObjectHeader;
    let offset = 0;
    for (;;) {
      let result: [number, number, number];
      try {
        result = this.#dctx.decompressStream(this.#out, payload.subarray(offset));
      } catch (err) {
        throw bad(
          this.#where,
          `its body does not decompress (${err instanceof Error ? err.message : String(err)})`,
        );
      }
      const [pending, produced, consumed] = result;
      if (produced === 0 && consumed === 0 && offset < payload.length)
        throw bad(this.#where, 'its body does not decompress (zstd makes no progress)');
      this.#zstdPending = pending;
      offset += consumed;
      if (produced > 0) {
        if (this.#plain + produced > header.bytes)
          throw bad(this.#where, `it holds more than the ${header.bytes} bytes its header gives`);
        const chunk = this.#out.subarray(0, produced);
        this.#hash.update(chunk);
        this.#sink(chunk, this.#plain);
        this.#plain += produced;
      }
      // Done with this payload once it is all read and zstd had room to spare (nothing left inside).
      if (offset >= payload.length && produced < this.#out.length) return;
    }
  }
}

/**
 * Exact reads over pushed pieces, kept in one buffer of its own (so the pieces can be given back
 * at once). A view that `take` returns is valid until the next `push`.
 */
class ByteQueue {
  #buffer = Buffer.allocUnsafeSlow(0);
  #start = 0;
  #end = 0;

  get length(): number {
    return this.#end - this.#start;
  }

  push(chunk: Buffer): void {
    const length = this.length;
    if (this.#end + chunk.length > this.#buffer.length) {
      if (length + chunk.length <= this.#buffer.length) this.#buffer.copyWithin(0, this.#start, this.#end);
      else {
        const bigger = Buffer.allocUnsafeSlow(Math.max(length + chunk.length, 2 * this.#buffer.length));
        this.#buffer.copy(bigger, 0, this.#start, this.#end);
        this.#buffer = bigger;
      }
      this.#start = 0;
      this.#end = length;
    }
    chunk.copy(this.#buffer, this.#end);
    this.#end += chunk.length;
  }

  /** Exactly `n` bytes (the caller checked `length`). */
  take(n: number): Buffer {
    const out = this.#buffer.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

/** The key an encrypted header names, or EKEY saying which one is needed. */
export function requireKey(
  header: ObjectHeader,
  key: EncryptionKey | undefined,
  where: string,
): EncryptionKey {
  const wanted = header.encryption?.keyId ?? '';
  if (key === undefined)
    throw new BackupError(
      'ATS_BACKUP_KEY',
      'decrypt backup object',
      where,
      `it is encrypted (key id ${wanted}): give its key (--encryption-key-file or ATS_BACKUP_ENCRYPTION_KEY)`,
    );
  if (key.keyId !== wanted)
    throw new BackupError(
      'ATS_BACKUP_KEY',
      'decrypt backup object',
      where,
      `it is encrypted with key id ${wanted}, but the key from ${key.from} has id ${key.keyId}`,
    );
  return key;
}
