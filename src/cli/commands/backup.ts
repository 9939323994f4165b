import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  BACKUP_DEFAULTS,
  BACKUP_ENGINES,
  type BackupEngine,
  type BackupResult,
  backupBase,
  fileId,
  listGenerations,
  runBackup,
  sameFile,
  type VerifyMode,
} from '../../backup/index.js';
import { type Config, ConfigError, loadConfig } from '../../config/index.js';
import { oneOf, wholeNumber } from '../arguments.js';
import { formatBytes, progressReporter } from '../progress.js';
import { withShutdownSignal } from '../shutdown-signal.js';

interface BackupFlags {
  db: string;
  out?: string;
  verify: VerifyMode;
  keep?: number;
  config?: string;
  busyTimeout: number;
  engine: BackupEngine;
  json?: boolean;
}

/** `ats backup`: one hot backup of a database, with the same engine and rotation as the service. */
export function backupCommand(): Command {
  return new Command('backup')
    .description('take one hot backup of a live SQLite database and rotate <out>.bak1, .bak2, ...')
    .requiredOption('--db <path>', 'the database to back up')
    .option(
      '--out <path>',
      'where backups go: a folder, or the base path of <base>.bak1 (default: beside the database)',
    )
    .option(
      '--verify <mode>',
      'check of the copy before rotation: quick, full or off',
      oneOf('--verify', ['quick', 'full', 'off'], 'backup'),
      BACKUP_DEFAULTS.verify,
    )
    .option(
      '--keep <n>',
      'generations to keep (default: backup_keep of the am.toml serving this database, else as many as exist, at least 2)',
      wholeNumber('--keep', 1, 1000, 'backup'),
    )
    .option(
      '--config <path>',
      'the am.toml of the service using this database (default: ./am.toml when present)',
    )
    .option(
      '--busy-timeout <ms>',
      'how long to retry while the database is locked',
      wholeNumber('--busy-timeout', 0, 3_600_000, 'backup'),
      BACKUP_DEFAULTS.busyTimeoutMs,
    )
    .option(
      '--engine <engine>',
      'auto (block copy of the file plus its WAL frames, the backup API when it cannot), block or backup-api',
      oneOf('--engine', [...BACKUP_ENGINES], 'backup'),
      BACKUP_DEFAULTS.engine,
    )
    .option('--json', 'print the result as JSON on stdout')
    .action(async (flags: BackupFlags) => {
      const service = serviceSettings(flags.db, flags.config);
      const target = resolveTarget(flags.db, flags.out, service);
      const keep =
        flags.keep ?? service?.backupKeep ?? Math.max(BACKUP_DEFAULTS.keep, listGenerations(target).length); // never prunes what it was not told to
      const bar = progressReporter('backup', 'pages');
      try {
        const result = await withShutdownSignal((signal) =>
          runBackup({
            source: flags.db,
            target,
            keep,
            verify: flags.verify,
            busyTimeoutMs: flags.busyTimeout,
            engine: flags.engine,
            signal,
            onProgress: (p) => bar.update(p.phase, p.pagesDone, p.pagesTotal),
          }),
        );
        bar.stop();
        for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
        process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${summary(result)}\n`);
        if (!flags.json)
          for (const r of result.removed)
            process.stdout.write(
              `removed ${r.name} ${r.file} (taken ${r.createdAt ?? 'at an unknown time'}): ` +
                `${r.why === 'over-keep' ? `past --keep ${keep}` : `the oldest of ${keep} generations`}\n`,
            );
      } finally {
        bar.stop();
      }
    });
}

/**
 * The [Database] settings of the service using this database: from `--config`, or ./am.toml when
 * present and naming the same file. Undefined when there is none.
 */
function serviceSettings(db: string, configFile: string | undefined): Config['database'] | undefined {
  let config: Config;
  try {
    if (configFile === undefined && !fs.existsSync('am.toml')) return undefined;
    config = loadConfig({ path: configFile });
  } catch (err) {
    if (configFile !== undefined || !(err instanceof ConfigError)) throw err;
    process.stderr.write(`warning: ignoring ./am.toml (${err.message})\n`);
    return undefined;
  }
  return sameFile(fileId(config.database.path), fileId(db)) ? config.database : undefined;
}

/** `--out` may name a folder (backups take the database's name there) or a base path; else the service's backup_dir. */
function resolveTarget(db: string, out: string | undefined, service: Config['database'] | undefined): string {
  if (out === undefined) return backupBase(service?.backupDir ?? path.dirname(path.resolve(db)), db);
  const isFolder = fs.statSync(out, { throwIfNoEntry: false })?.isDirectory() ?? false;
  return isFolder ? backupBase(out, db) : path.resolve(out);
}

function summary(r: BackupResult): string {
  return (
    `backup ok: ${r.source} -> ${r.file} (${formatBytes(r.bytes)}, ${r.pages} pages) in ${seconds(r.durationMs)} ` +
    `[${r.engine} copy ${seconds(r.copyMs)} (snapshot held ${seconds(r.holdMs)})${r.fallbackReason ? `, fell back to the backup API: ${r.fallbackReason}` : ''}, ${r.verify.mode === 'off' ? 'not verified' : `${r.verify.mode}_check ok in ${seconds(r.verify.ms)}`}, ` +
    `${r.busyRetries} busy retries${r.cleanedUp.length ? `, removed ${r.cleanedUp.length} stale temporary file(s)` : ''}]`
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
