import crypto from 'node:crypto';
import type fs from 'node:fs/promises';
import { Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CompressStream, DecompressStream } from 'zstd-napi';
import { BackupError } from './errors.js';
import { requireKey } from './object-codec.js';
import { ChunkCipher, type EncryptionKey } from './object-crypto.js';
import {
  bad,
  checkTrailer,
  encodeHeader,
  encodeTrailer,
  FRAME_BYTES,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  OBJECT_MAGIC,
  type ObjectHeader,
  parseHeader,
  TRAILER_BYTES,
} from './object-format.js';

/** zstd level of new objects: level 1 is the measured best trade for database pages (design note). */
export const DEFAULT_ZSTD_LEVEL = 1;
// Small reads keep each synchronous zstd call short (about a millisecond), so a service that
// uploads in the background never stalls its requests for long.
const READ_BYTES = 256 * 1024;

/** The plaintext facts of a local file, read once through an open handle. */
export interface PlainFacts {
  readonly bytes: number;
  readonly sha256: string;
  readonly pageSize: number;
  readonly pageCount: number;
}

/** Reads `handle` to the end once: its length, SHA-256, and the page size and count in its SQLite header. */
export async function plainFacts(handle: fs.FileHandle): Promise<PlainFacts> {
  const hash = crypto.createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 << 20);
  let bytes = 0;
  let first: Buffer | undefined;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
    if (bytesRead === 0) break;
    if (first === undefined) first = Buffer.from(buffer.subarray(0, Math.min(bytesRead, 100)));
    hash.update(buffer.subarray(0, bytesRead));
    bytes += bytesRead;
  }
  const raw = first && first.length >= 32 ? first.readUInt16BE(16) : 0;
  const pageSize = raw === 1 ? 65_536 : raw;
  const pageCount = first && first.length >= 32 ? first.readUInt32BE(28) : 0;
  return Object.freeze({ bytes, sha256: hash.digest('hex'), pageSize, pageCount });
}

/**
 * The bytes of an object holding the file open as `handle` (whose facts `header` records),
 * produced as they are read: memory stays at a few frames whatever the file's size. Throws, and so
 * fails the upload, if the file no longer has the length the header promises.
 */
export function encodeObject(
  handle: fs.FileHandle,
  header: ObjectHeader,
  key: EncryptionKey | undefined,
  level = DEFAULT_ZSTD_LEVEL,
  checkSha256 = false,
): Readable {
  return Readable.from(objectChunks(handle, header, key, level, checkSha256), { objectMode: false });
}

async function* objectChunks(
  handle: fs.FileHandle,
  header: ObjectHeader,
  key: EncryptionKey | undefined,
  level: number,
  checkSha256: boolean,
): AsyncGenerator<Buffer> {
  const headerBytes = encodeHeader(header);
  yield headerBytes;
  const cipher =
    header.encryption && key
      ? new ChunkCipher(key, Buffer.from(header.encryption.salt, 'base64'), headerBytes)
      : undefined;
  let plain = 0;
  // When the header's checksum came from the catalogue rather than a pass over this handle, the
  // bytes are hashed on the way and checked before the end frame: a mismatch fails the upload.
  const hash = checkSha256 ? crypto.createHash('sha256') : undefined;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      plain += chunk.length;
      hash?.update(chunk);
      done(null, chunk);
    },
  });
  const compressed = new CompressStream({ compressionLevel: level });
  const source = handle.createReadStream({ start: 0, highWaterMark: READ_BYTES, autoClose: false });
  const flowing = pipeline(source, counted, compressed);
  let index = 0;
  let held: Buffer | undefined; // one payload held back: only at the end is it known to be the last
  const frame = (payload: Buffer, last: boolean): Buffer => {
    const body = cipher ? cipher.seal(index, last, payload) : payload;
    index++;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    return Buffer.concat([length, body]);
  };
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of compressed as AsyncIterable<Buffer>) {
    parts.push(chunk);
    size += chunk.length;
    while (size >= FRAME_BYTES) {
      const all = Buffer.concat(parts);
      if (held) yield frame(held, false);
      held = all.subarray(0, FRAME_BYTES);
      parts = [all.subarray(FRAME_BYTES)];
      size = all.length - FRAME_BYTES;
    }
  }
  await flowing;
  if (size > 0) {
    if (held) yield frame(held, false);
    held = Buffer.concat(parts);
  }
  if (held) yield frame(held, true);
  if (plain !== header.bytes)
    throw new BackupError(
      'ATS_BACKUP_COPY',
      'upload',
      header.source,
      `the file changed while it was uploaded (${plain} bytes read, ${header.bytes} expected)`,
    );
  if (hash && hash.digest('hex') !== header.sha256)
    throw new BackupError(
      'ATS_BACKUP_COPY',
      'upload',
      header.source,
      'the file does not have the SHA-256 its catalogue record gives: not uploaded',
    );
  yield Buffer.alloc(4); // end frame
  yield encodeTrailer(header.bytes, header.sha256);
}

/** Buffered exact reads over an async byte stream; chunks are joined once per read, not per arrival. */
class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  #chunks: Buffer[] = [];
  #length = 0;
  #ended = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.#source = (source as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or fewer only if the stream ended first. */
  async read(n: number): Promise<Buffer> {
    while (this.#length < n && !this.#ended) {
      const next = await this.#source.next();
      if (next.done) this.#ended = true;
      else {
        const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
        this.#chunks.push(chunk);
        this.#length += chunk.length;
      }
    }
    const all =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#length);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return out;
  }

  async exact(n: number, where: string, what: string): Promise<Buffer> {
    const out = await this.read(n);
    if (out.length < n) throw bad(where, `it ends inside ${what} (truncated object)`);
    return out;
  }

  async atEnd(): Promise<boolean> {
    return (await this.read(1)).length === 0;
  }
}

/** Reads only the header at the start of an object. */
export async function readHeader(
  input: AsyncIterable<Buffer | Uint8Array>,
  where: string,
): Promise<ObjectHeader> {
  return (await readHeaderBytes(new ByteReader(input), where)).header;
}

async function readHeaderBytes(
  reader: ByteReader,
  where: string,
): Promise<{ header: ObjectHeader; bytes: Buffer }> {
  const magic = await reader.read(OBJECT_MAGIC.length);
  if (magic.length === 0) throw bad(where, 'it is empty (0 bytes)');
  if (!magic.equals(OBJECT_MAGIC)) throw bad(where, 'it does not start like an ats backup object');
  const lengthBytes = await reader.exact(4, where, 'the header');
  const length = lengthBytes.readUInt32BE();
  if (length > MAX_HEADER_BYTES) throw bad(where, `its header claims ${length} bytes`);
  const json = await reader.exact(length, where, 'the header');
  return { header: parseHeader(json, where), bytes: Buffer.concat([magic, lengthBytes, json]) };
}

/** Options of {@link decodeObject}. */
export interface DecodeOptions {
  /** Names the object in messages. */
  readonly where: string;
  readonly key: EncryptionKey | undefined;
  /** Receives the plaintext; omitted: checked and discarded. */
  readonly output?: Writable;
  /** Called with the header before any body is read: may refuse (throw) early. */
  readonly onHeader?: (header: ObjectHeader) => void;
  readonly onProgress?: (plainBytes: number, totalBytes: number) => void;
}

/**
 * Reads a whole object, decrypting and decompressing it into `output`, and checks it end to end:
 * the header, every chunk's authentication, the frame structure, the trailer, no bytes after it,
 * and the plaintext's length and SHA-256 against the header. Any failure throws EOBJECT (or EKEY)
 * and the caller must discard what `output` received.
 */
export async function decodeObject(
  input: AsyncIterable<Buffer | Uint8Array>,
  options: DecodeOptions,
): Promise<ObjectHeader> {
  const { where } = options;
  const reader = new ByteReader(input);
  const { header, bytes: headerBytes } = await readHeaderBytes(reader, where);
  options.onHeader?.(header);
  const cipher = header.encryption
    ? new ChunkCipher(
        requireKey(header, options.key, where),
        Buffer.from(header.encryption.salt, 'base64'),
        headerBytes,
      )
    : undefined;

  async function* payloads(): AsyncGenerator<Buffer> {
    let index = 0;
    let length = (await reader.exact(4, where, 'a frame length')).readUInt32BE();
    if (length === 0) throw bad(where, 'it has no body');
    while (length !== 0) {
      if (length > MAX_FRAME_BYTES) throw bad(where, `frame ${index} claims ${length} bytes`);
      const payload = await reader.exact(length, where, `frame ${index}`);
      const next = (await reader.exact(4, where, 'a frame length')).readUInt32BE();
      yield cipher ? cipher.open(index, next === 0, payload, where) : payload;
      index++;
      length = next;
    }
    checkTrailer(await reader.exact(TRAILER_BYTES, where, 'the trailer'), header, where);
    if (!(await reader.atEnd())) throw bad(where, 'it has bytes after its trailer');
  }

  const hash = crypto.createHash('sha256');
  let plain = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      plain += chunk.length;
      if (plain > header.bytes) {
        done(bad(where, `it holds more than the ${header.bytes} bytes its header gives`));
        return;
      }
      hash.update(chunk);
      options.onProgress?.(plain, header.bytes);
      done(null, chunk);
    },
  });
  const sink =
    options.output ??
    new Writable({
      write(_chunk, _enc, done) {
        done();
      },
    });
  try {
    await pipeline(Readable.from(payloads()), new DecompressStream(), check, sink);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw bad(where, `its body does not decompress (${err instanceof Error ? err.message : String(err)})`);
  }
  if (plain !== header.bytes) throw bad(where, `it holds ${plain} bytes, its header gives ${header.bytes}`);
  const digest = hash.digest('hex');
  if (digest !== header.sha256)
    throw bad(
      where,
      `its content's SHA-256 ${digest.slice(0, 16)}... differs from its header's ${header.sha256.slice(0, 16)}...`,
    );
  return header;
}
