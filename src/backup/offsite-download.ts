import fs from 'node:fs/promises';
import path from 'node:path';
import type { Destination, RemoteEntry } from './destination.js';
import { BackupError, reasonOf } from './errors.js';
import { fsyncDir } from './install.js';
import type { EncryptionKey } from './object-crypto.js';
import { MAX_HEADER_BYTES, type ObjectHeader } from './object-format.js';
import { decodeObjectInWorker } from './object-in-worker.js';
import { readHeader } from './object-stream.js';
import { type BackupName, nameOfId, parseBackupName } from './remote-names.js';
import { takeLease } from './restore-lease.js';
import { type VerifyOutcome, verifyDatabase } from './verify.js';

/** A remote backup as a listing shows it. */
export interface RemoteBackup extends BackupName {
  readonly storedBytes: number;
}

/** The backups at a destination, oldest first (leases and foreign objects left out). */
export async function listRemoteBackups(
  destination: Destination,
  signal?: AbortSignal,
): Promise<RemoteBackup[]> {
  const entries = await destination.list(signal);
  return entries.flatMap((e: RemoteEntry) => {
    const parsed = parseBackupName(e.name);
    return parsed ? [{ ...parsed, storedBytes: e.bytes }] : [];
  });
}

/** Reads only the header of a remote backup (one ranged read). */
export async function readRemoteHeader(
  destination: Destination,
  name: string,
  signal?: AbortSignal,
): Promise<ObjectHeader> {
  const body = await destination.open(name, { end: MAX_HEADER_BYTES + 12 }, signal);
  try {
    return await readHeader(body, `${destination.info.url}/${name}`);
  } finally {
    body.destroy();
  }
}

/** The backup `id` names (the newest when undefined); EINVALID naming what is there when absent. */
export async function resolveRemoteBackup(
  destination: Destination,
  id: string | undefined,
  signal?: AbortSignal,
): Promise<RemoteBackup> {
  const backups = await listRemoteBackups(destination, signal);
  if (id === undefined) {
    const newest = backups.at(-1);
    if (!newest)
      throw new BackupError(
        'ATS_BACKUP_SOURCE',
        'find backup',
        destination.info.url,
        'there are no backups there',
      );
    return newest;
  }
  const wanted = nameOfId(id);
  const found = backups.find((b) => b.name === wanted);
  if (!found)
    throw new BackupError(
      'ATS_BACKUP_SOURCE',
      'find backup',
      `${destination.info.url}/${id}`,
      `no such backup (${backups.length} there${backups.length ? `, newest ${backups.at(-1)?.id}` : ''}; see ats backups --from ${destination.info.url})`,
    );
  return found;
}

/** Options of {@link downloadBackup}. */
export interface DownloadOptions {
  readonly destination: Destination;
  readonly name: string;
  /** File to create (it must not exist); removed on any failure. */
  readonly file: string;
  readonly key: EncryptionKey | undefined;
  readonly verify: 'quick' | 'full';
  readonly signal?: AbortSignal;
  readonly onProgress?: (plainBytes: number, totalBytes: number) => void;
}

/** What a download produced. */
export interface DownloadResult {
  readonly header: ObjectHeader;
  readonly file: string;
  readonly verify: VerifyOutcome;
  readonly durationMs: number;
}

/**
 * Downloads a remote backup into `file`, checked end to end (format, authentication, length,
 * SHA-256), fsynced, then checked by SQLite. While it runs, a lease on the object keeps retention
 * in any process from removing it. On failure `file` is removed and EOBJECT/EKEY/EREMOTE thrown.
 */
export async function downloadBackup(options: DownloadOptions): Promise<DownloadResult> {
  const started = performance.now();
  const { destination, name, file } = options;
  const where = `${destination.info.url}/${name}`;
  const release = await takeLease(destination, [name]);
  let handle: fs.FileHandle | undefined;
  try {
    // From here on the lease keeps it; if it is gone already, a retention pass that listed the
    // leases before this one was written removed it: say so rather than fail on the read.
    if ((await destination.stat(name, options.signal)) === undefined)
      throw new BackupError(
        'ATS_BACKUP_SOURCE',
        'find backup',
        where,
        `it is no longer there (retention removed it as this restore began); see ats backups --from ${destination.info.url}`,
      );
    handle = await fs.open(file, 'wx', 0o600).catch((err: unknown) => {
      throw new BackupError('ATS_BACKUP_DEST', 'create', file, reasonOf(err), { cause: err });
    });
    const body = await destination.open(name, {}, options.signal);
    const header = await decodeObjectInWorker(body, {
      where,
      key: options.key,
      output: handle,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsyncDir(path.dirname(file));
    const verify = verifyDatabase(file, options.verify);
    if (!verify.ok)
      throw new BackupError(
        'ATS_BACKUP_VERIFY',
        'verify download',
        where,
        `its checksum matches but the database fails ${options.verify}_check: ${verify.problems[0] ?? ''}`,
      );
    return Object.freeze({ header, file, verify, durationMs: Math.round(performance.now() - started) });
  } catch (err) {
    await handle?.close().catch(() => {});
    await fs.rm(file, { force: true });
    throw err;
  } finally {
    await release().catch(() => {});
  }
}
