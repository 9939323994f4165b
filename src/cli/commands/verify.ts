import fs from 'node:fs';
import { Command } from 'commander';
import { BackupError, verifyDatabase } from '../../backup/index.js';

/** `ats verify FILE`: checks a database or backup file; exit 1 when it has a problem. */
export function verifyCommand(): Command {
  return new Command('verify')
    .description('check a database or backup file with quick_check (or integrity_check with --full)')
    .argument('<file>', 'the SQLite file to check')
    .option('--full', 'run integrity_check (slower, also checks indexes against tables)')
    .option('--json', 'print the result as JSON on stdout')
    .action((file: string, flags: { full?: boolean; json?: boolean }) => {
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
