import fs from 'node:fs/promises';
import path from 'node:path';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';

/** Path of generation `n` (1 = newest) of the backups of `target`. */
export function generationPath(target: string, n: number): string {
  return `${target}.bak${n}`;
}

/** Path of the temporary file a new copy is written to before rotation. */
export function copyTmpPath(target: string): string {
  return `${target}.bak.tmp`;
}

// Files a crashed backup can leave: the copy, its SQLite journal, and rotation's link names.
const STALE = /^\.bak\d*\.tmp(-journal)?$/;

/** Removes what an interrupted backup of `target` left behind. Call only while holding the backup lock. */
export async function removeStaleFiles(target: string): Promise<string[]> {
  const dir = path.dirname(target);
  const prefix = path.basename(target);
  const removed: string[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.startsWith(prefix) || !STALE.test(name.slice(prefix.length))) continue;
    const file = path.join(dir, name);
    await fs.rm(file, { force: true });
    removed.push(file);
  }
  if (removed.length > 0) await fsyncDir(dir);
  return removed;
}

/**
 * Makes the verified copy `tmp` generation 1 and shifts the older ones down, dropping the oldest.
 *
 * Each shift hard-links generation n-1 to a temporary name and renames that over generation n,
 * so every generation exists and is a complete database at every instant: a crash between two
 * steps leaves two names for one backup, never a missing or partial one. Where the filesystem has
 * no hard links, a plain rename is used (generation n-1 is then absent until the next step).
 */
export async function rotate(tmp: string, target: string, keep: number): Promise<void> {
  for (let n = keep; n >= 2; n--) {
    const older = generationPath(target, n - 1);
    if (!(await exists(older))) continue;
    await shift(older, generationPath(target, n));
    faultPoint('rotate-shift');
  }
  await step('rename', tmp, () => fs.rename(tmp, generationPath(target, 1)));
  faultPoint('rotate-renamed');
  await fsyncDir(path.dirname(target));
  // Generations past `keep` (from a larger keep before) go only once the new one is durable.
  for (let n = keep + 1; await exists(generationPath(target, n)); n++) {
    await step('remove', generationPath(target, n), () => fs.rm(generationPath(target, n)));
  }
}

async function shift(from: string, to: string): Promise<void> {
  const link = `${to}.tmp`;
  await fs.rm(link, { force: true });
  try {
    await fs.link(from, link);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') {
      throw new BackupError('ATS_BACKUP_ROTATE', 'link', from, reasonOf(err), { cause: err });
    }
    await step('rename', from, () => fs.rename(from, to));
    return;
  }
  await step('rename', link, () => fs.rename(link, to));
  // rename() between two names of one file (left so by a crash mid-rotation) does nothing and
  // succeeds; the temporary name must still go.
  await fs.rm(link, { force: true });
}

/** fsyncs a folder so the renames in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  await step('fsync', dir, async () => {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

async function step(operation: string, file: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw new BackupError('ATS_BACKUP_ROTATE', operation, file, reasonOf(err), { cause: err });
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
