import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  BACKUP_DEFAULTS,
  BACKUP_ENGINES,
  type BackupEngine,
  type BackupResult,
  runBackup,
  type VerifyMode,
} from '../../backup/index.js';
import { oneOf, wholeNumber } from '../arguments.js';
import { formatBytes, progressReporter } from '../progress.js';
import { withShutdownSignal } from '../shutdown-signal.js';

interface BackupFlags {
  db: string;
  out?: string;
  verify: VerifyMode;
  keep: number;
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
      'generations to keep',
      wholeNumber('--keep', 1, 1000, 'backup'),
      BACKUP_DEFAULTS.keep,
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
      const bar = progressReporter('backup', 'pages');
      try {
        const result = await withShutdownSignal((signal) =>
          runBackup({
            source: flags.db,
            target: resolveTarget(flags.db, flags.out),
            keep: flags.keep,
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
      } finally {
        bar.stop();
      }
    });
}

/** `--out` may name a folder (backups take the database's name there) or a base path. */
function resolveTarget(db: string, out: string | undefined): string {
  if (out === undefined) return db;
  const isFolder = fs.statSync(out, { throwIfNoEntry: false })?.isDirectory() ?? false;
  return isFolder ? path.join(out, path.basename(db)) : out;
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
