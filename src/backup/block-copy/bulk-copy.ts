import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A bulk copy running in a child process. */
export interface BulkCopy {
  /** Settles when the child exits: the copy is complete, or it rejects with what the child said. */
  readonly done: Promise<void>;
  /** Bytes written to the destination so far. */
  written(): number;
  /** Stops the child (cancellation, a budget exceeded, a fallback). */
  stop(): void;
  /** Which program copied (`cp`, or `node` when there is no GNU cp). */
  readonly tool: string;
}

/**
 * Copies `source` over the existing file `dest` in a child process, with large sequential I/O:
 * GNU `cp --reflink=auto` (a clone on XFS/Btrfs, `copy_file_range` elsewhere), else a child
 * `node` calling `fs.copyFileSync` (also `copy_file_range`). A child, never this process: opening
 * and closing the database file here would drop this process's POSIX locks on it (rule 2),
 * SQLite's and the store's. Where util-linux `setpriv` exists, the child gets SIGKILL when the
 * thread that started it dies, so a killed or terminated backup leaves no copier behind.
 * `dest` keeps its own permission bits.
 */
export function startBulkCopy(source: string, dest: string): BulkCopy {
  const cp = process.platform === 'linux' ? onPath('cp') : undefined;
  const setpriv = process.platform === 'linux' ? onPath('setpriv') : undefined;
  const [command, args]: [string, string[]] = cp
    ? [cp, ['--reflink=auto', '--', source, dest]]
    : [
        process.execPath,
        ['-e', 'require("fs").copyFileSync(process.argv[1], process.argv[2])', source, dest],
      ];
  const child: ChildProcess = setpriv
    ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', command, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const tool = cp ? 'cp' : 'node';
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(stderr.trim() || `${tool} exited with ${signal ?? `code ${code}`}`));
    });
  });
  done.catch(() => {}); // observed by the caller; this keeps an early rejection from being "unhandled"
  return {
    done,
    tool,
    written: () => fs.statSync(dest, { throwIfNoEntry: false })?.size ?? 0,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

const found = new Map<string, string | undefined>();

/** The executable `name` on PATH (looked up once per thread, without spawning anything). */
function onPath(name: string): string | undefined {
  if (!found.has(name)) {
    const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter).filter((d) => d !== '');
    const file = dirs.map((d) => path.join(d, name)).find((f) => isExecutable(f));
    found.set(name, file);
  }
  return found.get(name);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
