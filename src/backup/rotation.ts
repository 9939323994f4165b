import fs from 'node:fs/promises';
import path from 'node:path';
import { type BackupRecord, findRecord, generationPath } from './catalogue.js';
import { BackupError, reasonOf } from './errors.js';
import { faultPoint } from './fault-points.js';
import { fsyncDir, installFile, step } from './install.js';

/** Path of the temporary file a new copy is written to before rotation. */
export function copyTmpPath(target: string): string {
  return `${target}.bak.tmp`;
}

/** A generation rotation dropped. */
export interface RemovedGeneration {
  /** Its name before it went (`bak7`). */
  readonly name: string;
  readonly file: string;
  readonly createdAt: string | undefined;
  /** 'rotated-out': the oldest, replaced by the one before it; 'over-keep': past `keep`. */
  readonly why: 'rotated-out' | 'over-keep';
}

// Files a crashed backup can leave: the copy, its SQLite journal, rotation's link names, the records' tmp.
const STALE = /^(\.bak\d*\.tmp(-journal)?|\.backups\.json\.tmp)$/;

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
 * Makes the verified copy `tmp` generation 1 and shifts the older ones down, dropping the oldest;
 * returns every generation it dropped, for the caller to report.
 *
 * Each shift hard-links generation n-1 to a temporary name and renames that over generation n,
 * so every generation exists and is a complete database at every instant: a crash between two
 * steps leaves two names for one backup, never a missing or partial one. Where the filesystem has
 * no hard links, a plain rename is used (generation n-1 is then absent until the next step).
 * `checkCancelled` runs before the first change and before the final rename.
 */
export async function rotate(
  tmp: string,
  target: string,
  keep: number,
  checkCancelled: () => void = () => {},
): Promise<RemovedGeneration[]> {
  checkCancelled();
  const removed: RemovedGeneration[] = [];
  const oldest = generationPath(target, keep);
  if (keep >= 2 && (await exists(generationPath(target, keep - 1))) && (await exists(oldest)))
    removed.push(describe(target, keep, 'rotated-out'));
  for (let n = keep; n >= 2; n--) {
    const older = generationPath(target, n - 1);
    if (!(await exists(older))) continue;
    await shift(older, generationPath(target, n));
    faultPoint('rotate-shift');
  }
  if (keep === 1 && (await exists(oldest))) removed.push(describe(target, 1, 'rotated-out'));
  await installFile(tmp, generationPath(target, 1), checkCancelled);
  faultPoint('rotate-renamed');
  // Generations past `keep` (from a larger keep before) go only once the new one is durable.
  for (let n = keep + 1; await exists(generationPath(target, n)); n++) {
    removed.push(describe(target, n, 'over-keep'));
    await step('remove', generationPath(target, n), () => fs.rm(generationPath(target, n)));
  }
  return removed;
}

function describe(target: string, n: number, why: RemovedGeneration['why']): RemovedGeneration {
  const file = generationPath(target, n);
  const record: BackupRecord | undefined = findRecord(target, file);
  return Object.freeze({ name: `bak${n}`, file, createdAt: record?.createdAt, why });
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

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
