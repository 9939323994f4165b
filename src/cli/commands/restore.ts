import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { generationPath, KEY_ENV, restoreBackup } from '../../backup/index.js';
import { resolveDatabase, withDatabaseOptions } from '../database-options.js';
import { encryptionKey, fetchRemote, isDestinationUrl } from '../offsite.js';
import { formatBytes, progressReporter } from '../progress.js';
import { holdDatabase } from '../service-lock.js';
import { StartupError } from '../startup-check.js';
import { UsageError } from '../usage-error.js';

interface RestoreFlags {
  config?: string;
  db?: string;
  from: string;
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
      'the backup: a generation (bak1 newest, bak2, ...), a file, or s3://BUCKET/PREFIX (newest there)',
      'bak1',
    )
    .option('--id <id>', 'with a remote --from: the backup to restore (as ats backups --from lists it)')
    .option('--encryption-key-file <path>', `the key of encrypted remote backups (or set ${KEY_ENV})`)
    .option('--full', 'check the backup with integrity_check instead of quick_check')
    .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
    .action(async (flags: RestoreFlags) => {
      const { database, target } = resolveDatabase(flags, 'restore');
      const remote = isDestinationUrl(flags.from);
      if (flags.id !== undefined && !remote)
        throw new UsageError(
          '--id names a remote backup: give --from s3://BUCKET/PREFIX too',
          'ats restore --help',
        );
      const key = remote ? encryptionKey(flags.encryptionKeyFile) : undefined;
      const from = remote
        ? flags.from
        : /^bak[1-9][0-9]*$/.test(flags.from)
          ? generationPath(target, Number(flags.from.slice(3)))
          : path.resolve(flags.from);
      if (!flags.yes) await confirm(database, from); // before the lock: a waiting prompt must not hold the database
      if (remote) fs.mkdirSync(path.dirname(database), { recursive: true }); // a new machine after a disk loss
      const held = holdDatabase(database, 'ats restore');
      if ('heldBy' in held)
        throw new StartupError(`database ${database} is in use by ${held.heldBy}: stop it before restoring`);
      try {
        const bar = progressReporter('restore', 'MiB');
        const mib = (bytes: number): number => Math.ceil(bytes / 1_048_576);
        const verify = flags.full ? 'full' : 'quick';
        // A remote backup is downloaded and checked end to end beside the database, then installed
        // through the same path as a local one.
        const fetched = remote
          ? await fetchRemote(from, flags.id, database, key, verify, (done, total) =>
              bar.update('download', mib(done), mib(total)),
            )
          : undefined;
        const result = await restoreBackup({
          from: fetched?.file ?? from,
          database,
          verify,
          onProgress: (done, total) => bar.update('copy', mib(done), mib(total)),
        })
          .then((r) => (fetched ? { ...r, from: fetched.label } : r))
          .finally(() => {
            bar.stop();
            if (fetched) fs.rmSync(fetched.file, { force: true });
          });
        process.stdout.write(
          `restored ${result.database} from ${result.from} (${formatBytes(result.bytes)}, ${result.verify.mode}_check ok)` +
            `${result.keptAs ? `; the database it replaced is kept as ${result.keptAs}` : ''}\n`,
        );
      } finally {
        held.lock.release();
      }
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
    throw new UsageError('restore cancelled: nothing was changed', 'ats restore --yes');
}
