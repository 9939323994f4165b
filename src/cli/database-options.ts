import path from 'node:path';
import type { Command } from 'commander';
import { backupBase } from '../backup/index.js';
import { loadConfig } from '../config/index.js';
import { UsageError } from './usage-error.js';

/** The database a command works on, and where its backups are. */
export interface DatabaseTarget {
  readonly database: string;
  readonly backupDir: string;
  /** Base path of the generations: `<backupDir>/<db name>`. */
  readonly target: string;
  readonly configFile: string | undefined;
}

/** Adds `--config` and `--db`, the two ways of naming the database. */
export function withDatabaseOptions(command: Command): Command {
  return command
    .option('--config <path>', 'the am.toml of the service (default: ./am.toml when present)')
    .option('--db <path>', 'the database, when not using a config (backups are looked for beside it)');
}

/** Resolves `--config` / `--db` as `ats serve` would. */
export function resolveDatabase(flags: { config?: string; db?: string }, command: string): DatabaseTarget {
  if (flags.config !== undefined && flags.db !== undefined) {
    throw new UsageError('give --config or --db, not both', `ats ${command} --help`);
  }
  if (flags.db !== undefined) {
    const database = path.resolve(flags.db);
    const backupDir = path.dirname(database);
    return { database, backupDir, target: backupBase(backupDir, database), configFile: undefined };
  }
  const config = loadConfig({ path: flags.config });
  const { path: database, backupDir } = config.database;
  return {
    database,
    backupDir,
    target: backupBase(backupDir, database),
    configFile: config.file,
  };
}
