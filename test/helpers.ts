// Shared helpers of the tests: real temp folders, real SQLite files, real child processes.
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { expect } from 'vitest';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

/** A fresh temporary folder; the caller removes it (`removeDir`). */
export function tempDir(prefix = 'ats-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Removes a folder made by `tempDir`, whatever is in it. */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

// biome-ignore lint/suspicious/noExplicitAny: a constructor of any arguments, for instanceof
type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/**
 * The error `fn` throws, failing the test unless it throws an instance of `type` (with `code`,
 * when given). A refusal that does not happen, or that comes as another error, is a failure.
 */
export function refusal<E extends Error>(fn: () => unknown, type: ErrorClass<E>, code?: string): E {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  return expectError(thrown, type, code);
}

/** Like `refusal`, for a promise that must reject. */
export async function rejection<E extends Error>(
  work: Promise<unknown>,
  type: ErrorClass<E>,
  code?: string,
): Promise<E> {
  const thrown = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  return expectError(thrown, type, code);
}

function expectError<E extends Error>(thrown: unknown, type: ErrorClass<E>, code: string | undefined): E {
  if (thrown === undefined) throw new Error(`expected a ${type.name}, but nothing was thrown`);
  expect(thrown).toBeInstanceOf(type);
  if (code !== undefined) expect((thrown as { code?: unknown }).code).toBe(code);
  return thrown as E;
}

/** Creates a database with table `t(id, body)` and about `megabytes` of rows. */
export function makeDatabase(file: string, megabytes: number, journalMode: 'wal' | 'delete' = 'wal'): void {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec(
    'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE INDEX IF NOT EXISTS t_body ON t (body)',
  );
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  const rows = Math.ceil((megabytes * 1024 * 1024) / 450); // row + index entry take ~450 bytes
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`seed ${i} ${'x'.repeat(200)}`);
  })();
  db.close();
}

/**
 * A database of table `t` with `rows` random bodies (250 random bytes in base64 each, about 340
 * bytes of text): it barely compresses, so its backup object is nearly its size (several zstd
 * frames, a multipart upload when large enough), where makeDatabase's text makes a tiny one.
 */
export function makeRandomDatabase(file: string, rows: number): void {
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(crypto.randomBytes(250).toString('base64'));
  })();
  db.close();
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Row count of table `t`, read through a fresh connection. Retries every millisecond: against a
 * full-speed writer in rollback-journal mode, SQLite's own growing busy sleeps starve a reader.
 */
export function countRows(file: string): number {
  const db = new Database(file, { readonly: true, timeout: 0 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt > 20_000) throw err;
        Atomics.wait(pause, 0, 0, 1);
      }
    }
  } finally {
    db.close();
  }
}

/** `PRAGMA integrity_check` of a file: 'ok' or what SQLite reported (or the open error). */
export function integrity(file: string): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return (db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } catch (err) {
    return (err as Error).message;
  } finally {
    db?.close();
  }
}

/** A writer child process inserting into `t` as fast as it can. */
export interface Writer {
  readonly child: ChildProcess;
  /** Sends SIGTERM and resolves with what the writer counted. */
  stop(): Promise<{ rows: number; errors: number; firstError?: string }>;
}

export async function startWriter(file: string, journalMode: 'wal' | 'delete' = 'wal'): Promise<Writer> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/writer.mjs'), file, journalMode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.startsWith('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited early with code ${code}`)));
  });
  return {
    child,
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('exit', () => {
          try {
            resolve(JSON.parse(out.split('\n').filter(Boolean).at(-1) ?? '{}'));
          } catch (err) {
            reject(err);
          }
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * A child process holding `db` open (test/fixtures/holder.mjs): `exclusive` (BEGIN EXCLUSIVE),
 * `write` (an uncommitted write transaction) or `idle` (committed a row, now does nothing).
 */
export async function startHolder(db: string, kind: 'exclusive' | 'write' | 'idle'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/fixtures/holder.mjs'), db, kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return child;
}

/**
 * Leaves `db` as a crash would (test/fixtures/crash-writer.mjs): `committed` more rows in table t
 * that, in WAL mode, are only in its -wal; in rollback-journal mode with a hot -journal too.
 */
export async function crashWriter(db: string, mode: 'wal' | 'delete', committed: number): Promise<void> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'test/fixtures/crash-writer.mjs'), db, mode, String(committed)],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
  if (signal !== 'SIGKILL') throw new Error(`crash-writer ended with ${String(signal)}, not SIGKILL`);
}

/** The result of running the built CLI. */
export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ats ...args` as a real process. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; killAfterMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A hung command must not outlive its test (vitest's timeout does not kill children).
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 90_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Files in a folder, sorted. */
export function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** A running `ats serve` process. */
export interface Service {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Log lines with this `event`. */
  events(event: string): Record<string, unknown>[];
  /** Sends a signal and resolves with the exit code once the process has ended. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `ats serve --config <file>` and resolves once it listens. */
export async function startService(
  config: string,
  options: { cwd?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<Service> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, ...(options.args ?? [])], {
    cwd: options.cwd ?? path.dirname(config),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.event === 'listening') resolve(String(entry.url));
      }
    });
    void exited.then((code) =>
      reject(new Error(`ats serve exited with ${code} before listening: ${stderr}`)),
    );
  });
  return {
    child,
    url,
    logs,
    events: (event) => logs.filter((l) => l.event === event),
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Waits until `condition()` holds, polling every 50 ms, or fails after `ms`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  ms = 20_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes an am.toml in `dir` and returns its path. */
export function writeConfig(dir: string, text: string): string {
  const file = path.join(dir, 'am.toml');
  fs.writeFileSync(file, text);
  return file;
}

/** A valid attestation body. */
export function attestation(i: number, extra: object = {}): object {
  return {
    subjects: [`subject-${i}`],
    predicates: ['member'],
    contexts: [`ctx-${i % 10}`],
    actors: [`actor-${i % 7}`],
    attributes: { i },
    ...extra,
  };
}

/** Overwrites the header of one leaf page of index t_body with garbage, as a bad disk sector would. */
export function corruptIndexPage(db: string): void {
  const conn = new Database(db, { readonly: true });
  const { pageno } = conn
    .prepare("SELECT pageno FROM dbstat WHERE name = 't_body' AND pagetype = 'leaf' LIMIT 1 OFFSET 3")
    .get() as { pageno: number };
  const pageSize = conn.pragma('page_size', { simple: true }) as number;
  conn.close();
  const fd = fs.openSync(db, 'r+');
  fs.writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, (pageno - 1) * pageSize);
  fs.closeSync(fd);
}

/** POSTs `body` (one attestation or an array) to a running service's /attestations. */
export function postAttestations(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Rows in the store's `attestations` table of `file`, read through a fresh read-only connection. */
export function countAttestations(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM attestations').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
