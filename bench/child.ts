import { type ChildProcess, spawn } from 'node:child_process';

/** A spawned child whose stdout is collected; `exited` settles when it ends. */
export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal's name) and everything printed. */
  readonly exited: Promise<{ code: number | string; stdout: string; stderr: string }>;
  /** Resolves when stdout has printed a line equal to `line`. */
  waitForLine(line: string, timeoutMs: number): Promise<void>;
  /** Kills the child with `signal` if it still runs. */
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();

/** Spawns `command` with its stdout and stderr captured (stderr also shown after a failure). */
export function spawnChild(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Child {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  if (child.pid === undefined) throw new Error(`spawn ${command}: no process id`);
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', (err) => {
      live.delete(child);
      reject(new Error(`spawn ${command}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
  exited.catch(() => undefined); // callers that never await it must not crash the bench
  return {
    process: child,
    pid: child.pid,
    exited,
    waitForLine(line, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`${command}: no "${line}" within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`),
            ),
          timeoutMs,
        );
        const check = (): void => {
          if (stdout.split('\n').includes(line)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        void exited.then((r) => {
          clearTimeout(timer);
          reject(
            new Error(`${command} exited (${r.code}) before printing "${line}": ${r.stderr.slice(-500)}`),
          );
        }, reject);
        check();
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Kills every child this process spawned that still runs (on interruption). */
export function killAllChildren(): void {
  for (const child of live) if (child.exitCode === null) child.kill('SIGKILL');
}

/** The last line of `text` that parses as a JSON object. */
export function lastJsonLine<T>(text: string): T | undefined {
  for (const line of text.trim().split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      return JSON.parse(line) as T;
    } catch {}
  }
  return undefined;
}
