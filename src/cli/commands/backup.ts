import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import {
  BACKUP_DEFAULTS,
  BackupError,
  type BackupResult,
  KEY_ENV,
  runBackup,
  type VerifyMode,
} from '../../backup/index.js';
import { oneOf, wholeNumber } from '../arguments.js';
import { encryptionKey, openDestinations, uploadToAll } from '../offsite.js';
import { formatBytes, progressReporter } from '../progress.js';
import { withShutdownSignal } from '../shutdown-signal.js';

interface BackupFlags {
  db: string;
  out?: string;
  verify: VerifyMode;
  keep: number;
  busyTimeout: number;
  json?: boolean;
  to?: string[];
  encryptionKeyFile?: string;
  remoteKeep?: number;
  remoteKeepDays?: number;
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
    .option('--json', 'print the result as JSON on stdout')
    .option(
      '--to <url>',
      'also upload the verified backup to s3://BUCKET/PREFIX or file:///FOLDER (repeatable)',
      (url: string, urls: string[] = []) => [...urls, url],
    )
    .option('--encryption-key-file <path>', `encrypt uploads with this 256-bit key (or set ${KEY_ENV})`)
    .option(
      '--remote-keep <n>',
      'remote backups kept per destination',
      wholeNumber('--remote-keep', 1, 100_000, 'backup'),
    )
    .option(
      '--remote-keep-days <n>',
      'also keep remote backups younger than this',
      wholeNumber('--remote-keep-days', 1, 100_000, 'backup'),
    )
    .action(async (flags: BackupFlags) => {
      // Every destination and the key are checked before the backup: a typo uploads nothing.
      const destinations = openDestinations(flags.to ?? []);
      const key = destinations.length > 0 ? encryptionKey(flags.encryptionKeyFile) : undefined;
      const bar = progressReporter('backup', 'pages');
      try {
        const result = await withShutdownSignal((signal) =>
          runBackup({
            source: flags.db,
            target: resolveTarget(flags.db, flags.out),
            keep: flags.keep,
            verify: flags.verify,
            busyTimeoutMs: flags.busyTimeout,
            signal,
            onProgress: (p) => bar.update(p.phase, p.pagesDone, p.pagesTotal),
          }),
        );
        bar.stop();
        for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
        if (destinations.length === 0) {
          process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${summary(result)}\n`);
          return;
        }
        if (!flags.json) process.stdout.write(`${summary(result)}\n`);
        const retention = { keep: flags.remoteKeep, keepDays: flags.remoteKeepDays };
        const uploads = await withShutdownSignal((signal) =>
          uploadToAll(result.file, destinations, key, retention, signal),
        );
        if (flags.json)
          process.stdout.write(`${JSON.stringify({ ...result, uploads: uploads.lines }, null, 2)}\n`);
        else for (const line of uploads.lines) process.stdout.write(`${line}\n`);
        const failed = uploads.failures[0];
        if (failed)
          throw new BackupError(
            failed.code,
            failed.operation,
            failed.path,
            `${failed.reason} (the local backup ${result.file} is kept; ${uploads.failures.length} upload(s) failed)`,
            { cause: failed },
          );
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
    `[copy ${seconds(r.copyMs)}, ${r.verify.mode === 'off' ? 'not verified' : `${r.verify.mode}_check ok in ${seconds(r.verify.ms)}`}, ` +
    `${r.busyRetries} busy retries${r.cleanedUp.length ? `, removed ${r.cleanedUp.length} stale temporary file(s)` : ''}]`
  );
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
