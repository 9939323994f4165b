import fs from 'node:fs/promises';
import path from 'node:path';
import { BackupError, reasonOf } from './errors.js';

/**
 * Installs the finished file `tmp` at `final`: fsyncs it, renames it over `final` (atomic: `final`
 * is the old file or the new one at every instant), fsyncs the folder so the rename survives a
 * power loss. On any error `tmp` is removed and `final` is left as it was (unless the rename
 * itself happened). `beforeRename` runs last before the rename: the place to honour cancellation.
 * Both backup rotation and restore install through here.
 */
export async function installFile(
  tmp: string,
  final: string,
  beforeRename?: () => void,
  options: { syncFolder?: boolean } = {},
): Promise<void> {
  try {
    await fsyncFile(tmp);
    beforeRename?.();
    await step('rename', tmp, () => fs.rename(tmp, final));
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err instanceof BackupError
      ? err
      : new BackupError('ATS_BACKUP_ROTATE', 'install', tmp, reasonOf(err));
  }
  if (options.syncFolder !== false) await fsyncDir(path.dirname(final));
}

/** fsyncs a file's data. Never call it on a database this process holds SQLite connections to. */
export async function fsyncFile(file: string): Promise<void> {
  await step('fsync', file, async () => {
    const handle = await fs.open(file, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** fsyncs a folder so the renames in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  await fsyncFile(dir);
}

/** Runs one file-system step, wrapping a failure as EROTATE naming the step and the file. */
export async function step(operation: string, file: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw new BackupError('ATS_BACKUP_ROTATE', operation, file, reasonOf(err), { cause: err });
  }
}
