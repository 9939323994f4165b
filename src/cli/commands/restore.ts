import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import {
  BackupError,
  findRecord,
  KEY_ENV,
  listLineages,
  listRemoteBackups,
  openDestination,
  resolveBackup,
  restoreBackup,
  restoreContinuous,
} from '../../backup/index.js';
import { objectStoreFor } from '../continuous-setup.js';
import { resolveDatabase, withDatabaseOptions } from '../database-options.js';
import { encryptionKey, fetchRemote, isDestinationUrl } from '../offsite.js';
import { formatBytes, progressReporter } from '../progress.js';
import { holdDatabase, releaseAfterRestore, serviceLockPath } from '../service-lock.js';
import { withShutdownSignal } from '../shutdown-signal.js';
import { StartupError } from '../startup-check.js';
import { UsageError } from '../usage-error.js';

interface RestoreFlags {
  config?: string;
  db?: string;
  from: string;
  at?: string;
  position?: string;
  full?: boolean;
  yes?: boolean;
  id?: string;
  encryptionKeyFile?: string;
}

/** `ats restore`: puts a verified backup in place of the database, keeping the one it replaces. */
export function restoreCommand(): Command {
  return withDatabaseOptions(new Command('restore'))
    .description(
      'replace the database with a verified backup; the replaced one is kept as <db>.pre-restore-<time>',
    )
    .option(
      '--from <bakN|path|url>',
      'the backup: a generation (bak1 newest, bak2, ...), a file, s3://BUCKET/PREFIX or file:///FOLDER (newest there), or a continuous destination',
      'bak1',
    )
    .option('--id <id>', 'with a remote --from: the backup to restore (as ats backups --from lists it)')
    .option('--encryption-key-file <path>', `the key of encrypted remote backups (or set ${KEY_ENV})`)
    .option(
      '--at <time>',
      'continuous backup: the database as it was at this moment (ISO 8601 with a zone, e.g. 2026-12-02T10:15:30Z)',
    )
    .option(
      '--position <lineage/txid>',
      'continuous backup: the database at this position, as `ats backups --from` prints it',
    )
    .option('--full', 'check the backup with integrity_check instead of quick_check')
    .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
    .action(async (flags: RestoreFlags) => {
      const { database, target, configFile } = resolveDatabase(flags, 'restore');
      if (await isContinuous(flags)) {
        if (flags.id !== undefined)
          throw new UsageError(
            '--id names a snapshot object; --at / --position a continuous point: give one of them',
            'ats restore --help',
          );
        await restoreFromContinuous(flags, database);
        return;
      }
      const remote = isDestinationUrl(flags.from);
      if (flags.id !== undefined && !remote)
        throw new UsageError(
          '--id names a remote backup: give --from s3://BUCKET/PREFIX too',
          'ats restore --help',
        );
      const key = remote ? encryptionKey(flags.encryptionKeyFile) : undefined;
      const from = remote ? flags.from : resolveBackup(flags.from, target).file;
      if (!flags.yes && !process.stdin.isTTY)
        throw new UsageError(`restore replaces ${database}: pass --yes to confirm`, 'ats restore --help');
      // Say what is missing before asking anything or taking any lock.
      if (!remote && !fs.existsSync(from)) {
        const how =
          configFile || flags.db ? '' : ` (no am.toml here and no --db: the default database ${database})`;
        throw new BackupError('ATS_BACKUP_SOURCE', 'restore from', from, `no such file${how}`);
      }
      // From off-site, the main use is a new machine after a disk loss: the folder may not exist yet.
      if (remote) fs.mkdirSync(path.dirname(database), { recursive: true });
      if (!fs.existsSync(path.dirname(database)))
        throw new BackupError(
          'ATS_BACKUP_DEST',
          'restore',
          database,
          `the database's folder ${path.dirname(database)} does not exist`,
        );
      if (!flags.yes) await confirm(database, from); // before the lock: a waiting prompt must not hold the database
      await whileHeldForRestore(database, async () => {
        const bar = progressReporter('restore', 'pages');
        const verify = flags.full ? 'full' : 'quick';
        // A remote backup is downloaded and checked end to end beside the database, then installed
        // through the same path as a local one (its checksum checked once more there).
        const fetched = remote
          ? await fetchRemote(from, flags.id, database, key, verify, (done, total) =>
              bar.update('download', Math.ceil(done / 1_048_576), Math.ceil(total / 1_048_576)),
            )
          : undefined;
        const result = await withShutdownSignal((signal) =>
          restoreBackup({
            from: fetched?.file ?? from,
            database,
            verify,
            checksum: fetched?.sha256 ?? findRecord(target, from)?.checksum,
            signal,
            onProgress: (p) => bar.update(p.phase, p.pagesDone, p.pagesTotal),
          }),
        )
          .then((r) => (fetched ? { ...r, from: fetched.label } : r))
          .finally(() => {
            bar.stop();
            if (fetched) fs.rmSync(fetched.file, { force: true });
          });
        process.stdout.write(
          `restored ${result.database} from ${result.from} (${formatBytes(result.bytes)}, ${result.verify.mode}_check ok)` +
            `${result.keptAs ? `; the database it replaced is kept as ${result.keptAs}` : ''}\n`,
        );
      });
    });
}

async function confirm(database: string, from: string): Promise<void> {
  if (!process.stdin.isTTY)
    throw new UsageError(`restore replaces ${database}: pass --yes to confirm`, 'ats restore --help');
  const exists = fs.existsSync(database) ? ' (it is kept as a .pre-restore file)' : '';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`Replace ${database}${exists} with ${from}? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim()))
    throw new UsageError('restore cancelled: nothing was changed', 'ats restore --help');
}

/** Whether `--from` names a continuous-backup destination (or --at/--position ask for one). */
async function isContinuous(flags: RestoreFlags): Promise<boolean> {
  if (flags.at !== undefined || flags.position !== undefined) return true;
  // A URL without --at / --position names snapshot objects (the newest, or --id) when it holds
  // any, else its continuous backup's newest position; a plain folder holding lineages/ is a
  // continuous destination (its newest position).
  if (/^(s3|file):\/\//.test(flags.from)) {
    if (flags.id !== undefined) return false;
    if ((await listRemoteBackups(openDestination(flags.from))).length > 0) return false;
    return (await listLineages(objectStoreFor(flags.from))).size > 0;
  }
  return fs.existsSync(path.join(path.resolve(flags.from), 'lineages'));
}

/** `--at`: an ISO 8601 time with a zone, as ms since the epoch. */
export function parseAt(at: string): number {
  const ms = Date.parse(at);
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(at) || Number.isNaN(ms))
    throw new UsageError(
      `--at ${at}: not an ISO 8601 time with a zone`,
      'ats restore --from <url> --at 2026-12-02T10:15:30Z',
    );
  return ms;
}

/** `--position`: `<lineage>/<txid>`. */
export function parsePosition(position: string): { lineage: string; txid: bigint } {
  const m = /^([0-9a-f]{32})\/([1-9][0-9]*)$/.exec(position);
  if (m === null)
    throw new UsageError(
      `--position ${position}: not a position (<lineage: 32 hex digits>/<txid>)`,
      'ats backups --from <url> prints the positions',
    );
  return { lineage: m[1] as string, txid: BigInt(m[2] as string) };
}

async function restoreFromContinuous(flags: RestoreFlags, database: string): Promise<void> {
  if (flags.at !== undefined && flags.position !== undefined)
    throw new UsageError('--at and --position name two targets: give one', 'ats restore --help');
  if (flags.from === 'bak1')
    throw new UsageError(
      '--at and --position need --from <destination url>',
      'ats restore --from s3://bucket/prefix --at <time>',
    );
  const atMs = flags.at === undefined ? undefined : parseAt(flags.at);
  const position = flags.position === undefined ? undefined : parsePosition(flags.position);
  // Continuous objects may be encrypted: the key from --encryption-key-file or the environment.
  const store = objectStoreFor(flags.from, encryptionKey(flags.encryptionKeyFile));
  if (!flags.yes) await confirm(database, flags.from);
  await whileHeldForRestore(database, async () => {
    const bar = progressReporter('restore', 'objects');
    const result = await restoreContinuous({
      store,
      database,
      atMs,
      position,
      verify: flags.full ? 'full' : 'quick',
      onProgress: (done, total) => bar.update('apply', done, total),
    }).finally(() => bar.stop());
    process.stdout.write(
      `restored ${result.database} to position ${result.lineage}/${result.txid} (committed by ${new Date(result.timeMs).toISOString()}; ` +
        `${result.objects} objects, checksum ${result.checksum} equals the primary's, integrity_check ok)` +
        `${result.keptAs ? `; the database it replaced is kept as ${result.keptAs}` : ''}\n`,
    );
  });
}

/**
 * Runs `restore` holding `database` as the service would (refused, naming the holder, while
 * anything else holds it), then lets it go, removing the lock file no database can take again.
 */
async function whileHeldForRestore(database: string, restore: () => Promise<void>): Promise<void> {
  const lockFile = serviceLockPath(database);
  const held = holdDatabase(database, 'ats restore');
  if ('heldBy' in held)
    throw new StartupError(`database ${database} is in use by ${held.heldBy}: stop it before restoring`);
  try {
    await restore();
  } finally {
    releaseAfterRestore(held.lock, lockFile, database);
  }
}
