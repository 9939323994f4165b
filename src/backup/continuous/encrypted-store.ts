import fs from 'node:fs';
import { BackupError, reasonOf } from '../errors.js';
import { ChunkCipher, type EncryptionKey } from '../object-crypto.js';
import type { ObjectStore } from './destination.js';
import { FLAG_ENCRYPTED, FLAGS_OFFSET, HEADER_BYTES, KEY_ID_OFFSET, SALT_OFFSET } from './segment-format.js';

/** Plaintext bytes per sealed chunk (the snapshot objects of `object-format.ts` use the same size). */
const CHUNK_BYTES = 1 << 20;
/** The largest sealed chunk accepted on read: a chunk plus its GCM tag. */
const MAX_SEALED_BYTES = CHUNK_BYTES + 16;

/** The key hint for an encrypted continuous destination. */
const KEY_HINT = '--encryption-key-file FILE or ATS_BACKUP_ENCRYPTION_KEY';

/**
 * Encrypts continuous-backup objects (segments and snapshots) on their way to a destination and
 * decrypts them on the way back, with issue 14's cipher (`ChunkCipher`: AES-256-GCM, a data key per
 * object from HKDF of the key and a random salt, chunks of 1 MiB bound to the header, their number
 * and whether they are the last).
 *
 * An encrypted object is its 128-byte header in clear (kind, lineage, txids, times, checksums,
 * WAL position: what listing and restore planning read with a ranged `head`, and no row data),
 * flagged encrypted with the key id and salt in its spare bytes, then the rest of the plain object
 * (records and trailer) as sealed chunks `u32 length | ciphertext+tag`. The header is authenticated
 * (each chunk's additional data holds its SHA-256), so a changed header fails the first chunk; a
 * chunk cut off the end fails the new last one. Reading gives back the plain object byte for byte,
 * whose own SHA-256 is then checked as always.
 *
 * With a key every object put is encrypted: never in clear. Without one, puts are plain and a get
 * of an encrypted object is refused naming the destination, the object and the key id it needs.
 */
export class EncryptingStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #key: EncryptionKey | undefined;

  constructor(inner: ObjectStore, key: EncryptionKey | undefined) {
    this.#inner = inner;
    this.#key = key;
  }

  get url(): string {
    return this.#inner.url;
  }

  /** The key objects are sealed with, if any (tests, messages). */
  get keyId(): string | undefined {
    return this.#key?.keyId;
  }

  async put(key: string, file: string): Promise<void> {
    const k = this.#key;
    if (k === undefined) return this.#inner.put(key, file);
    const sealed = `${file}.sealed`;
    try {
      await sealObject(k, file, sealed, `${this.url}/${key}`);
      await this.#inner.put(key, sealed);
    } finally {
      await fs.promises.rm(sealed, { force: true });
    }
  }

  async get(key: string, file: string): Promise<void> {
    const fetched = `${file}.sealed`;
    await fs.promises.rm(fetched, { force: true });
    try {
      await this.#inner.get(key, fetched);
      await openObject(this.#key, fetched, file, `${this.url}/${key}`);
    } finally {
      await fs.promises.rm(fetched, { force: true });
    }
  }

  /** The header is in clear: listing and planning work without the key. */
  head(key: string, bytes: number): Promise<Buffer> {
    return this.#inner.head(key, bytes);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  remove(keys: readonly string[]): Promise<void> {
    return this.#inner.remove(keys);
  }

  /** Restore leases are plain JSON (every retention reads them): they bypass the encryption. */
  get plain(): ObjectStore {
    return this.#inner.plain ?? this.#inner;
  }
}

/** Whether a header (the first 128 bytes of an object) says the object is encrypted. */
export function isEncryptedHeader(head: Buffer): boolean {
  return head.length >= HEADER_BYTES && (head.readUInt8(FLAGS_OFFSET) & FLAG_ENCRYPTED) !== 0;
}

/** Writes `plain` (a finished plain object) to `out` encrypted with `key`. */
async function sealObject(key: EncryptionKey, plain: string, out: string, where: string): Promise<void> {
  const src = await fs.promises.open(plain, 'r');
  const dst = await fs.promises.open(out, 'wx', 0o600);
  try {
    const size = (await src.stat()).size;
    const head = Buffer.alloc(HEADER_BYTES);
    if ((await src.read(head, 0, HEADER_BYTES, 0)).bytesRead !== HEADER_BYTES || size <= HEADER_BYTES)
      throw new BackupError('ATS_BACKUP_FORMAT', 'encrypt backup object', plain, 'shorter than an object');
    if (isEncryptedHeader(head))
      throw new BackupError('ATS_BACKUP_FORMAT', 'encrypt backup object', plain, 'already encrypted');
    const salt = ChunkCipher.salt();
    head.writeUInt8(head.readUInt8(FLAGS_OFFSET) | FLAG_ENCRYPTED, FLAGS_OFFSET);
    Buffer.from(key.keyId, 'hex').copy(head, KEY_ID_OFFSET, 0, 8);
    salt.copy(head, SALT_OFFSET);
    const cipher = new ChunkCipher(key, salt, head);
    await dst.write(head, 0, HEADER_BYTES, 0);
    let at = HEADER_BYTES;
    let outAt = HEADER_BYTES;
    const buf = Buffer.alloc(CHUNK_BYTES);
    for (let index = 0; at < size; index++) {
      const n = Math.min(CHUNK_BYTES, size - at);
      if ((await src.read(buf, 0, n, at)).bytesRead !== n)
        throw new BackupError(
          'ATS_BACKUP_COPY',
          'encrypt backup object',
          plain,
          'the file shrank while read',
        );
      at += n;
      const sealed = cipher.seal(index, at >= size, buf.subarray(0, n));
      const len = Buffer.alloc(4);
      len.writeUInt32BE(sealed.length);
      await dst.write(len, 0, 4, outAt);
      await dst.write(sealed, 0, sealed.length, outAt + 4);
      outAt += 4 + sealed.length;
    }
    await dst.sync();
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError('ATS_BACKUP_COPY', 'encrypt backup object', where, reasonOf(err), { cause: err });
  } finally {
    await src.close();
    await dst.close();
  }
}

/**
 * Writes the plain object of `fetched` (as downloaded) to `out`: as is when it is plain, decrypted
 * with `key` when it is encrypted. No key, another key, or a chunk that fails authentication is an
 * error naming the object (`where`), and `out` is removed.
 */
async function openObject(
  key: EncryptionKey | undefined,
  fetched: string,
  out: string,
  where: string,
): Promise<void> {
  const src = await fs.promises.open(fetched, 'r');
  let dst: fs.promises.FileHandle | undefined;
  try {
    const size = (await src.stat()).size;
    const head = Buffer.alloc(HEADER_BYTES);
    const got = (await src.read(head, 0, HEADER_BYTES, 0)).bytesRead;
    if (got < HEADER_BYTES || !isEncryptedHeader(head)) {
      await src.close();
      await fs.promises.rename(fetched, out);
      return;
    }
    const keyId = head.toString('hex', KEY_ID_OFFSET, KEY_ID_OFFSET + 8);
    if (key === undefined)
      throw new BackupError(
        'ATS_BACKUP_KEY',
        'restore',
        where,
        `the object is encrypted (key id ${keyId}) and no key was given: give it with ${KEY_HINT}`,
      );
    if (key.keyId !== keyId)
      throw new BackupError(
        'ATS_BACKUP_KEY',
        'restore',
        where,
        `the object is encrypted with key id ${keyId}, but the key given (${key.from}) has id ${key.keyId}: give the key it was written with`,
      );
    const cipher = new ChunkCipher(key, head.subarray(SALT_OFFSET, SALT_OFFSET + 16), head);
    dst = await fs.promises.open(out, 'wx', 0o600);
    const plainHead = Buffer.from(head);
    plainHead.writeUInt8(plainHead.readUInt8(FLAGS_OFFSET) & ~FLAG_ENCRYPTED, FLAGS_OFFSET);
    plainHead.fill(0, KEY_ID_OFFSET, HEADER_BYTES);
    await dst.write(plainHead, 0, HEADER_BYTES, 0);
    let at = HEADER_BYTES;
    let outAt = HEADER_BYTES;
    const len = Buffer.alloc(4);
    const buf = Buffer.alloc(MAX_SEALED_BYTES);
    const bad = (why: string): BackupError => new BackupError('ATS_BACKUP_OBJECT', 'restore', where, why);
    if (at >= size) throw bad('no encrypted body after the header (truncated)');
    for (let index = 0; at < size; index++) {
      if ((await src.read(len, 0, 4, at)).bytesRead !== 4) throw bad(`chunk ${index} cut short`);
      const n = len.readUInt32BE(0);
      if (n < 16 || n > MAX_SEALED_BYTES || at + 4 + n > size)
        throw bad(`chunk ${index} has a wrong length (truncated or altered)`);
      if ((await src.read(buf, 0, n, at + 4)).bytesRead !== n) throw bad(`chunk ${index} cut short`);
      at += 4 + n;
      const plain = cipher.open(index, at >= size, buf.subarray(0, n), where);
      await dst.write(plain, 0, plain.length, outAt);
      outAt += plain.length;
    }
  } catch (err) {
    await dst?.close();
    dst = undefined;
    await fs.promises.rm(out, { force: true });
    throw err;
  } finally {
    await dst?.close();
    await src.close().catch(() => undefined);
  }
}
