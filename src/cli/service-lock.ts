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

/**
 * Releases a restore's hold on `database`, whose lock file was `lockFile` when the restore began,
 * and removes that file when no database can take it again: the file it was named after was
 * replaced (a new inode, a new lock file), or there was no database and the restore made none
 * (refused). It is removed while still held, so no other process can have taken it meanwhile.
 */
export function releaseAfterRestore(lock: FileLock, lockFile: string, database: string): void {
  const orphaned = !fs.existsSync(database) || serviceLockPath(database) !== lockFile;
  if (orphaned) fs.rmSync(lockFile, { force: true });
  lock.release();
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
