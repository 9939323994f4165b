import fs from 'node:fs';
import { Command } from 'commander';
import { BackupError, KEY_ENV, verifyDatabase } from '../../backup/index.js';
import { encryptionKey, isDestinationUrl, verifyRemote } from '../offsite.js';

/** `ats verify FILE`: checks a database or backup file; exit 1 when it has a problem. */
export function verifyCommand(): Command {
  return new Command('verify')
    .description('check a database or backup file with quick_check (or integrity_check with --full)')
    .argument('<file>', 'the SQLite file to check, or remote backups: s3://BUCKET/PREFIX[/ID]')
    .option('--full', 'run integrity_check (slower, also checks indexes against tables)')
    .option('--json', 'print the result as JSON on stdout')
    .option('--encryption-key-file <path>', `for encrypted remote backups: their key (or set ${KEY_ENV})`)
    .action(async (file: string, flags: { full?: boolean; json?: boolean; encryptionKeyFile?: string }) => {
      if (isDestinationUrl(file)) {
        const key = encryptionKey(flags.encryptionKeyFile);
        if (!(await verifyRemote(file, key, flags.full === true, flags.json === true))) process.exitCode = 1;
        return;
      }
      if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        throw new BackupError(
          'ATS_BACKUP_SOURCE',
          'verify',
          file,
          fs.existsSync(file) ? 'not a regular file' : 'no such file',
        );
      }
      const outcome = verifyDatabase(file, flags.full ? 'full' : 'quick');
      const check = `${outcome.mode === 'full' ? 'integrity' : 'quick'}_check`;
      if (flags.json) process.stdout.write(`${JSON.stringify({ file, ...outcome }, null, 2)}\n`);
      else if (outcome.ok) process.stdout.write(`${file}: ok (${check}, ${outcome.ms} ms)\n`);
      else
        process.stdout.write(
          `${file}: FAILED ${check}:\n${outcome.problems.map((p) => `  ${p}\n`).join('')}`,
        );
      if (!outcome.ok) process.exitCode = 1;
    });
}
