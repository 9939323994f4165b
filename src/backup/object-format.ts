import { BackupError } from './errors.js';

/**
 * The layout of one remote backup object, self-describing so that an object alone is enough to
 * restore and to check:
 *
 *   magic "ATSOBJ01" | u32 header length | header (JSON, UTF-8)
 *   frames: u32 payload length | payload   (zstd output, AES-256-GCM sealed when encrypted)
 *   end frame: u32 0
 *   trailer: magic "ATSEND01" | u64 plaintext length | 32-byte SHA-256 of the plaintext
 *
 * The header is written before the body, so everything in it (checksum included) is known before
 * the upload starts; the trailer repeats length and checksum so that an object cut at a frame
 * boundary is refused even before the plaintext is checked.
 */
export const OBJECT_MAGIC = Buffer.from('ATSOBJ01', 'latin1');
export const TRAILER_MAGIC = Buffer.from('ATSEND01', 'latin1');
export const TRAILER_BYTES = TRAILER_MAGIC.length + 8 + 32;
/** The longest header accepted: a bigger one is a wrong or hostile object. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** The longest frame payload accepted (the writer makes them at most FRAME_BYTES + a GCM tag). */
export const MAX_FRAME_BYTES = 4 << 20;
/** Compressed bytes per frame (and per encrypted chunk). */
export const FRAME_BYTES = 1 << 20;

/** What kind of thing an object holds; `snapshot` is a whole database file (WAL segments come later). */
export type ObjectKind = 'snapshot';

/** How the body is encrypted, if it is; no secret is in here. */
export interface ObjectEncryption {
  readonly algorithm: 'aes-256-gcm';
  /** First 16 hex digits of SHA-256 of the key: names the key needed without revealing it. */
  readonly keyId: string;
  /** HKDF salt of this object's data key (base64). */
  readonly salt: string;
}

/** The header of a remote backup object. */
export interface ObjectHeader {
  readonly format: 'ats-backup';
  readonly version: 1;
  readonly kind: ObjectKind;
  /** The object's name without folder or suffix (what `--id` takes). */
  readonly id: string;
  /** The database identity the backup belongs to. */
  readonly lineage: string;
  /** When the backup was taken (ISO 8601 UTC). */
  readonly createdAt: string;
  /** File name of the database it was taken from (no folders). */
  readonly source: string;
  readonly pageSize: number;
  readonly pageCount: number;
  /** Length of the plaintext (the database file). */
  readonly bytes: number;
  /** SHA-256 of the plaintext, hex. */
  readonly sha256: string;
  /** Where the source was when the snapshot was taken, as the catalogue records it; null if unknown. */
  readonly position: Readonly<Record<string, string | number>> | null;
  readonly compression: 'zstd';
  readonly encryption: ObjectEncryption | null;
}

/** The header bytes as written at the start of an object. */
export function encodeHeader(header: ObjectHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([OBJECT_MAGIC, length, json]);
}

/** Parses and checks a header's JSON; `where` names the object in messages. */
export function parseHeader(json: Buffer, where: string): ObjectHeader {
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    throw bad(where, 'its header is not valid JSON');
  }
  const h = value as Record<string, unknown>;
  if (typeof h !== 'object' || h === null || h.format !== 'ats-backup')
    throw bad(where, 'its header is not an ats backup header');
  if (h.version !== 1)
    throw bad(where, `format version ${String(h.version)} is not supported (this ats reads 1)`);
  if (h.kind !== 'snapshot') throw bad(where, `kind ${String(h.kind)} is not a snapshot`);
  for (const key of ['id', 'lineage', 'createdAt', 'source', 'sha256'] as const)
    if (typeof h[key] !== 'string') throw bad(where, `header field ${key} is missing or not a string`);
  for (const key of ['pageSize', 'pageCount', 'bytes'] as const) {
    const n = h[key];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      throw bad(where, `header field ${key} is not a whole number`);
  }
  if (!/^[0-9a-f]{64}$/.test(h.sha256 as string)) throw bad(where, 'header field sha256 is not a SHA-256');
  if (h.compression !== 'zstd') throw bad(where, `compression ${String(h.compression)} is not supported`);
  const enc = h.encryption as Record<string, unknown> | null | undefined;
  if (enc !== null) {
    if (
      typeof enc !== 'object' ||
      enc === undefined ||
      enc.algorithm !== 'aes-256-gcm' ||
      typeof enc.keyId !== 'string' ||
      typeof enc.salt !== 'string'
    )
      throw bad(where, 'header field encryption is malformed');
  }
  return Object.freeze(h as unknown as ObjectHeader);
}

/** The trailer bytes for a plaintext of `bytes` with SHA-256 `sha256` (hex). */
export function encodeTrailer(bytes: number, sha256: string): Buffer {
  const out = Buffer.alloc(TRAILER_BYTES);
  TRAILER_MAGIC.copy(out, 0);
  out.writeBigUInt64BE(BigInt(bytes), TRAILER_MAGIC.length);
  Buffer.from(sha256, 'hex').copy(out, TRAILER_MAGIC.length + 8);
  return out;
}

/** Checks a trailer against the header it closes. */
export function checkTrailer(trailer: Buffer, header: ObjectHeader, where: string): void {
  if (trailer.length !== TRAILER_BYTES || !trailer.subarray(0, TRAILER_MAGIC.length).equals(TRAILER_MAGIC))
    throw bad(where, 'its trailer is missing or damaged (the object is truncated or was not written by ats)');
  const bytes = Number(trailer.readBigUInt64BE(TRAILER_MAGIC.length));
  const sha256 = trailer.subarray(TRAILER_MAGIC.length + 8).toString('hex');
  if (bytes !== header.bytes || sha256 !== header.sha256)
    throw bad(where, 'its trailer does not match its header');
}

/** An object that is not what it claims to be. */
export function bad(where: string, reason: string): BackupError {
  return new BackupError('ATS_BACKUP_OBJECT', 'read backup object', where, reason);
}
