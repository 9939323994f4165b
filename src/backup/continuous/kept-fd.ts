import fs from 'node:fs';

// Rule 2 (docs/ARCHITECTURE.md, block-copy.md): a descriptor on a database file or its -shm is
// never closed in a process that has SQLite connections to it: closing any descriptor on a file
// drops every POSIX lock the process holds on it, SQLite's included. So descriptors are opened
// once per file and kept for the life of the process, in this one registry. A file is known by
// device and inode: when the path now names another file (the database was replaced), a new
// descriptor is opened and the old one is still kept.
const kept = new Map<string, { fd: number; dev: number; ino: number }>();

/** A read-only descriptor on `file` (the file the path names now), never closed. */
export function keptFd(file: string): number {
  const now = fs.statSync(file);
  const known = kept.get(file);
  if (known !== undefined && known.dev === now.dev && known.ino === now.ino) return known.fd;
  const fd = fs.openSync(file, 'r');
  const st = fs.fstatSync(fd);
  kept.set(file, { fd, dev: st.dev, ino: st.ino });
  return fd;
}
