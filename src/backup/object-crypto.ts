import crypto from 'node:crypto';
import fs from 'node:fs';
import { BackupError, reasonOf } from './errors.js';

/** A 256-bit key that encrypts remote backups, and the id written in their headers. */
export interface EncryptionKey {
  readonly key: Buffer;
  /** First 16 hex digits of SHA-256 of the key. */
  readonly keyId: string;
  /** Where it came from, for messages (never the key itself). */
  readonly from: string;
}

/** Environment variable that may hold the key (64 hex digits or base64 of 32 bytes). */
export const KEY_ENV = 'ATS_BACKUP_ENCRYPTION_KEY';

/**
 * Reads a key from a file: 32 raw bytes, or 64 hex digits, or base64 of 32 bytes (white space
 * around it ignored). Throws EKEY naming the file when it is missing, unreadable or not a key:
 * encryption that was asked for never silently becomes no encryption.
 */
export function loadKeyFile(file: string): EncryptionKey {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (err) {
    throw new BackupError('ATS_BACKUP_KEY', 'read encryption key', file, reasonOf(err), { cause: err });
  }
  return makeKey(raw, file);
}

/** The key in `env[KEY_ENV]`, or undefined when the variable is unset or empty. */
export function keyFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionKey | undefined {
  const value = env[KEY_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  return makeKey(Buffer.from(value, 'utf8'), `$${KEY_ENV}`);
}

function makeKey(raw: Buffer, from: string): EncryptionKey {
  let key: Buffer | undefined;
  if (raw.length === 32) key = raw;
  else {
    const text = raw.toString('utf8').trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/]{43}=$/.test(text)) key = Buffer.from(text, 'base64');
  }
  if (key?.length !== 32)
    throw new BackupError(
      'ATS_BACKUP_KEY',
      'read encryption key',
      from,
      'not a 256-bit key: give 32 raw bytes, 64 hex digits or base64 of 32 bytes (e.g. `openssl rand -hex 32`)',
    );
  return Object.freeze({ key, keyId: keyIdOf(key), from });
}

function keyIdOf(key: Buffer): string {
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Seals and opens the chunks of one object with AES-256-GCM. Each object has its own data key
 * (HKDF of the key and a random salt), so the nonce can be the chunk number; the additional data
 * binds each chunk to the object's header, its position and whether it is the last one, so chunks
 * cannot be reordered, moved between objects or dropped from the end unnoticed.
 */
export class ChunkCipher {
  readonly #dataKey: Buffer;
  readonly #headerDigest: Buffer;

  constructor(key: EncryptionKey, salt: Buffer, header: Buffer) {
    this.#dataKey = Buffer.from(crypto.hkdfSync('sha256', key.key, salt, 'ats-backup object v1', 32));
    this.#headerDigest = crypto.createHash('sha256').update(header).digest();
  }

  /** A fresh random salt for a new object. */
  static salt(): Buffer {
    return crypto.randomBytes(16);
  }

  seal(index: number, last: boolean, plaintext: Buffer): Buffer {
    return Buffer.concat(this.sealParts(index, last, plaintext));
  }

  /**
   * {@link seal}'s output in pieces whose concatenation it is (no copy): the ciphertext, which
   * has the plaintext's length, then the 16-byte tag.
   */
  sealParts(index: number, last: boolean, plaintext: Buffer): Buffer[] {
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#dataKey, this.#nonce(index));
    cipher.setAAD(this.#aad(index, last));
    const body = cipher.update(plaintext);
    const tail = cipher.final(); // empty for GCM
    return tail.length > 0 ? [body, tail, cipher.getAuthTag()] : [body, cipher.getAuthTag()];
  }

  /** The plaintext of a chunk; throws when it was altered, moved or is not the last one it claims to be. */
  open(index: number, last: boolean, sealed: Buffer, where: string): Buffer {
    if (sealed.length < 16)
      throw new BackupError(
        'ATS_BACKUP_OBJECT',
        'decrypt backup object',
        where,
        `chunk ${index} is too short`,
      );
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.#dataKey, this.#nonce(index));
    decipher.setAAD(this.#aad(index, last));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    try {
      const body = decipher.update(sealed.subarray(0, sealed.length - 16));
      const tail = decipher.final(); // empty for GCM: the body is returned as it is, not copied
      return tail.length > 0 ? Buffer.concat([body, tail]) : body;
    } catch {
      throw new BackupError(
        'ATS_BACKUP_OBJECT',
        'decrypt backup object',
        where,
        `chunk ${index} fails authentication (altered, reordered or truncated object)`,
      );
    }
  }

  #nonce(index: number): Buffer {
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(index), 4);
    return nonce;
  }

  #aad(index: number, last: boolean): Buffer {
    const tail = Buffer.alloc(9);
    tail.writeBigUInt64BE(BigInt(index));
    tail[8] = last ? 1 : 0;
    return Buffer.concat([this.#headerDigest, tail]);
  }
}
