import fs from 'node:fs';

/** A file's identity: device and inode, whatever name (symlink, hard link, bind mount) reaches it. */
export interface FileId {
  readonly dev: number;
  readonly ino: number;
}

/** The identity of `file` (following symlinks), or undefined when it does not exist. */
export function fileId(file: string): FileId | undefined {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat ? { dev: stat.dev, ino: stat.ino } : undefined;
}

/** Whether two identities are the same file. */
export function sameFile(a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * Processes other than this one with a descriptor open on the file `id`, found through
 * /proc/<pid>/fd (Linux; elsewhere, or for processes of other users, it finds nothing). It sees
 * what SQLite's locks cannot: a rollback-journal connection that is open but idle holds no lock.
 */
export function processesWithOpen(id: FileId): number[] {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return []; // no /proc: SQLite's own locks are the only check
  }
  const found: number[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or it just ended
    }
    for (const fd of fds) {
      let stat: fs.Stats | undefined;
      try {
        stat = fs.statSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile, or not ours to look at
      }
      if (stat && stat.dev === id.dev && stat.ino === id.ino) {
        found.push(Number(pid));
        break;
      }
    }
  }
  return found;
}
