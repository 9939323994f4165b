import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import { BackupError, type BackupErrorCode, reasonOf } from './errors.js';

/** The regular file a backup or restore reads from, or an ESOURCE error naming it. */
export async function requireFile(file: string, operation: string): Promise<Stats> {
  const stat = await statOr(file, 'ATS_BACKUP_SOURCE', operation, 'no such file');
  if (!stat.isFile()) throw new BackupError('ATS_BACKUP_SOURCE', operation, file, 'not a regular file');
  return stat;
}

/** The folder backups are written to: it must exist, be a folder and be writable (EDEST otherwise). */
export async function requireWritableFolder(dir: string): Promise<void> {
  const stat = await statOr(dir, 'ATS_BACKUP_DEST', 'backup folder', 'does not exist');
  if (!stat.isDirectory()) throw new BackupError('ATS_BACKUP_DEST', 'backup folder', dir, 'is not a folder');
  await fs.access(dir, fs.constants.W_OK).catch((err: unknown) => {
    throw new BackupError('ATS_BACKUP_DEST', 'backup folder', dir, 'is not writable', { cause: err });
  });
}

async function statOr(
  file: string,
  code: BackupErrorCode,
  operation: string,
  missing: string,
): Promise<Stats> {
  return fs.stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new BackupError(code, operation, file, err.code === 'ENOENT' ? missing : reasonOf(err), {
      cause: err,
    });
  });
}
