import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Destination } from './destination.js';
import { BackupError, reasonOf } from './errors.js';
import type { EncryptionKey } from './object-crypto.js';
import { ChunkCipher } from './object-crypto.js';
import type { ObjectHeader } from './object-format.js';
import { encodeObjectInWorker, plainFactsInWorker } from './object-in-worker.js';
import { DEFAULT_ZSTD_LEVEL, type PlainFacts } from './object-stream.js';
import { backupName, parseBackupName } from './remote-names.js';
import { applyRetention, type RetentionOutcome, type RetentionPolicy } from './retention.js';

/** Options of {@link uploadBackup}. */
export interface UploadOptions {
  readonly destination: Destination;
  /** A local backup file that has been verified (it is read through one open handle). */
  readonly file: string;
  /** The database identity the backup belongs to. */
  readonly lineage: string;
  /** When the backup was taken. Default: now. */
  readonly createdAt?: Date;
  readonly position?: ObjectHeader['position'];
  /** Encrypt with this key; undefined: no encryption (only when none is configured). */
  readonly key: EncryptionKey | undefined;
  readonly retention?: RetentionPolicy;
  /**
   * The file's facts as the catalogue recorded them: saves the pass that reads them (the bytes
   * are then hashed beside the upload, in a second worker, and checked before it completes).
   * Default: read from the file.
   */
  readonly known?: PlainFacts;
  /** Skip the upload when the newest remote backup has this content (SHA-256 hex). */
  readonly skipIfSha256?: string;
  readonly zstdLevel?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (storedBytes: number) => void;
}

/** What an upload did. */
export interface UploadResult {
  /** undefined when skipped because nothing changed. */
  readonly name: string | undefined;
  readonly skipped: boolean;
  readonly plain: PlainFacts;
  /** Bytes stored (compressed, maybe encrypted). */
  readonly storedBytes: number;
  readonly durationMs: number;
  readonly retention: RetentionOutcome | undefined;
  /** Why retention failed after a good upload (it is retried after the next one); undefined when it did not. */
  readonly retentionProblem: string | undefined;
}

/**
 * Uploads a verified local backup as a new immutable object: one pass reads its length, SHA-256
 * and page facts into the header; a second streams it compressed (and encrypted when a key is
 * given) to the destination. The stored length is checked against what was sent before the
 * object counts as uploaded; only then does retention run. A failure throws EREMOTE and leaves
 * every older object as it was.
 */
export async function uploadBackup(options: UploadOptions): Promise<UploadResult> {
  const started = performance.now();
  const { destination } = options;
  const handle = await fs.open(options.file, 'r').catch((err: unknown) => {
    throw new BackupError('ATS_BACKUP_SOURCE', 'open backup', options.file, reasonOf(err), { cause: err });
  });
  try {
    const plain = options.known ?? (await plainFactsInWorker(handle, options.file));
    if (options.skipIfSha256 === plain.sha256)
      return Object.freeze({
        name: undefined,
        skipped: true,
        plain,
        storedBytes: 0,
        durationMs: Math.round(performance.now() - started),
        retention: undefined,
        retentionProblem: undefined,
      });
    const createdAt = options.createdAt ?? new Date();
    const name = backupName(createdAt, options.lineage, crypto.randomBytes(4).toString('hex'));
    const header: ObjectHeader = {
      format: 'ats-backup',
      version: 1,
      kind: 'snapshot',
      id: parseBackupName(name)?.id ?? name,
      lineage: options.lineage,
      createdAt: createdAt.toISOString(),
      source: path.basename(options.file).replace(/\.bak\d+$/, ''),
      pageSize: plain.pageSize,
      pageCount: plain.pageCount,
      bytes: plain.bytes,
      sha256: plain.sha256,
      position: options.position ?? null,
      compression: 'zstd',
      encryption: options.key
        ? { algorithm: 'aes-256-gcm', keyId: options.key.keyId, salt: ChunkCipher.salt().toString('base64') }
        : null,
    };
    let sent = 0;
    const encoded = encodeObjectInWorker(
      handle,
      options.file,
      header,
      options.key,
      options.zstdLevel ?? DEFAULT_ZSTD_LEVEL,
    );
    // Facts from the catalogue rather than a pass over this descriptor: a second worker hashes the
    // file beside the encoder (each on a core of its own), and the body ends only once the
    // checksum is confirmed. A file that no longer has it fails the put before its last part is
    // sent, so no object appears.
    const rehash = options.known ? plainFactsInWorker(handle, options.file) : undefined;
    rehash?.catch(() => {}); // awaited below; until then, not an unhandled rejection
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of encoded.body) {
        sent += chunk.length;
        options.onProgress?.(sent);
        yield chunk;
      }
      const found = await rehash;
      if (found && (found.sha256 !== plain.sha256 || found.bytes !== plain.bytes))
        throw new BackupError(
          'ATS_BACKUP_COPY',
          'upload',
          header.source,
          'the file does not have the SHA-256 its catalogue record gives: not uploaded',
        );
    }
    let stored: Awaited<ReturnType<Destination['put']>>;
    try {
      // The object is at most the plaintext, zstd's worst-case growth and the frames' headers.
      stored = await destination.put(name, counted(), {
        signal: options.signal,
        maxBytes: Math.ceil(plain.bytes * 1.01) + (4 << 20),
      });
    } finally {
      // The workers read through this handle's descriptor: they must be gone before the handle closes.
      encoded.stop();
      await encoded.exited;
      await rehash?.catch(() => {});
    }
    if (stored.bytes !== sent) {
      await destination.remove([name]).catch(() => {});
      throw new BackupError(
        'ATS_BACKUP_REMOTE',
        'upload',
        `${destination.info.url}/${name}`,
        `the server stored ${stored.bytes} bytes of the ${sent} sent; the object was removed`,
      );
    }
    // The new object is stored and checked: a failing retention pass must not make it count as failed.
    let retention: RetentionOutcome | undefined;
    let retentionProblem: string | undefined;
    if (options.retention) {
      try {
        retention = await applyRetention(destination, options.retention, name, Date.now(), options.signal);
      } catch (err) {
        retentionProblem = reasonOf(err);
      }
    }
    return Object.freeze({
      name,
      skipped: false,
      plain,
      storedBytes: sent,
      durationMs: Math.round(performance.now() - started),
      retention,
      retentionProblem,
    });
  } finally {
    await handle.close();
  }
}
