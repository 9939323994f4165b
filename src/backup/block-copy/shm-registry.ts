import fs from 'node:fs';

/**
 * The process's descriptors on `-shm` files: opened once, never closed.
 *
 * POSIX `fcntl` locks belong to the process: closing any descriptor on a file drops every lock the
 * process holds on it, SQLite's included (design note, rule 2). Descriptor numbers are
 * process-wide, but Node closes the descriptors a worker thread opened when that worker exits, and
 * each backup copies in a new worker: a `-shm` opened there would be closed under the store's
 * connection at the end of every backup. So the registry lives in the thread that starts the copy
 * workers (the service's main thread); a worker asks it for a descriptor (see
 * {@link DescriptorChannel}) and only ever reads through the number it gets back.
 */
const kept = new Map<string, number>(); // "dev:ino" -> fd

/** Gives the read-only descriptor this process keeps on a `-shm`, or undefined when it has none. */
export type DescriptorSource = (file: string) => number | undefined;

/**
 * A read-only descriptor on `file`, from the registry or opened now and added to it; undefined
 * when the file does not exist or cannot be opened. Never close what it returns.
 */
export const keptDescriptor: DescriptorSource = (file) => {
  const st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  if (!st) return undefined;
  const known = kept.get(`${st.dev}:${st.ino}`);
  // An inode number can come back for a new file after the old one was deleted: a kept descriptor
  // whose file has no links left is the old file. It stays open (never close) but is not reused.
  if (known !== undefined && fs.fstatSync(known).nlink > 0) return known;
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  const opened = fs.fstatSync(fd, { bigint: true }); // the path may have been replaced since the stat
  kept.set(`${opened.dev}:${opened.ino}`, fd);
  return opened.dev === st.dev && opened.ino === st.ino ? fd : undefined;
};

/** How many descriptors this thread's registry keeps (one per `-shm` seen, however many backups ran). */
export function keptDescriptorCount(): number {
  return kept.size;
}

// A worker's synchronous request to its parent: [state, fd] in shared memory, the path by message.
const IDLE = 0;
const ANSWERED = 1;
const ASK_TIMEOUT_MS = 5_000;

/** Shared memory for one worker's descriptor requests. */
export function newDescriptorChannel(): SharedArrayBuffer {
  return new SharedArrayBuffer(8);
}

/** Parent side: answers a worker's request with the registry's descriptor (-1: none). */
export function answerDescriptorRequest(channel: SharedArrayBuffer, file: string): void {
  const cell = new Int32Array(channel);
  Atomics.store(cell, 1, keptDescriptor(file) ?? -1);
  Atomics.store(cell, 0, ANSWERED);
  Atomics.notify(cell, 0);
}

/**
 * Worker side: a {@link DescriptorSource} that posts the path to the parent and waits (at most
 * 5 s: the parent's event loop may be busy) for its answer.
 */
export function askParent(channel: SharedArrayBuffer, post: (file: string) => void): DescriptorSource {
  const cell = new Int32Array(channel);
  return (file) => {
    Atomics.store(cell, 0, IDLE);
    post(file);
    if (Atomics.wait(cell, 0, IDLE, ASK_TIMEOUT_MS) === 'timed-out') return undefined;
    const fd = Atomics.load(cell, 1);
    Atomics.store(cell, 0, IDLE);
    return fd >= 0 ? fd : undefined;
  };
}
