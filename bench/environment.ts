import os from 'node:os';
import Database from 'better-sqlite3';
import { sqlite3ShellVersion } from './contenders/index.js';

/** The machine and software the figures were measured on. */
export interface Environment {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly sqlite: string;
  readonly sqlite3Shell: string | undefined;
}

export function describeEnvironment(): Environment {
  const db = new Database(':memory:');
  const sqlite = String(db.prepare('SELECT sqlite_version()').pluck().get());
  db.close();
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    sqlite,
    sqlite3Shell: sqlite3ShellVersion(),
  };
}
