import { keptDescriptor } from '../block-copy/shm-registry.js';
import { BackupError } from '../errors.js';

/**
 * A read-only descriptor on `file` (a database or its -shm), never closed: Rule 2 of block-copy.md
 * (closing any descriptor on a file drops every POSIX lock the process holds on it, SQLite's
 * included). It comes from the process's one registry, the block-copy engine's, which knows a file
 * by device+inode: when the path now names another file, a new descriptor is opened and the old
 * one is still kept.
 */
export function keptFd(file: string): number {
  const fd = keptDescriptor(file);
  if (fd === undefined)
    throw new BackupError('ATS_BACKUP_SOURCE', 'open', file, 'cannot open it for reading');
  return fd;
}
