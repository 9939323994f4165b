import fs from 'node:fs';
import path from 'node:path';
import { type FileLock, fileId, lockOwner, tryLock } from '../backup/index.js';

/**
 * Path of the lock a running service holds on its database; restore takes it too. It is keyed by
 * the database's device and inode, in the folder that really holds it, so every name of the file
 * (a symlink, a bind mount, a hard link in the same folder) finds the same lock. A database that
 * does not exist yet is keyed by its real path.
 */
export function serviceLockPath(database: string): string {
  const real = realPath(database);
  const id = fileId(real);
  const name = path.basename(real);
  return id ? path.join(path.dirname(real), `.${name}.${id.dev}-${id.ino}.serve.lock`) : `${real}.serve.lock`;
}

/** Takes the database for this process, or undefined with who has it. */
export function holdDatabase(database: string, holder: string): { lock: FileLock } | { heldBy: string } {
  const file = serviceLockPath(database);
  const lock = tryLock(file, `${holder}, pid ${process.pid}`);
  return lock ? { lock } : { heldBy: lockOwner(file) ?? 'another process' };
}

/** Removes a lock file no one can take any more (its database was replaced). Call after release. */
export function removeLockFile(file: string): void {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.owner`, { force: true });
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
    } catch {
      return path.resolve(file); // the folder does not exist either
    }
  }
}
