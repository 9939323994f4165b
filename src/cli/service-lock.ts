import { type FileLock, lockOwner, tryLock } from '../backup/index.js';

/** Path of the lock a running service holds on its database; restore takes it too. */
export function serviceLockPath(database: string): string {
  return `${database}.serve.lock`;
}

/** Takes the database for this process, or undefined with who has it. */
export function holdDatabase(database: string, holder: string): { lock: FileLock } | { heldBy: string } {
  const file = serviceLockPath(database);
  const lock = tryLock(file, `${holder}, pid ${process.pid}`);
  return lock ? { lock } : { heldBy: lockOwner(file) ?? 'another process' };
}
