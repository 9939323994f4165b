#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { AtsError } from '../errors/index.js';
import { backupCommand } from './commands/backup.js';
import { backupsCommand } from './commands/backups.js';
import { restoreCommand } from './commands/restore.js';
import { serveCommand } from './commands/serve.js';
import { verifyCommand } from './commands/verify.js';
import { UsageError } from './usage-error.js';

/** Exit codes: 0 success, 1 the operation failed, 2 the command was called wrongly or the config is bad. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
const COMMANDS = [serveCommand, backupCommand, backupsCommand, verifyCommand, restoreCommand];

function program(): Command {
  const ats = new Command('ats')
    .description('attestation store on SQLite with a hot backup that always finishes')
    .version(version);
  for (const make of COMMANDS) ats.addCommand(make());
  // Errors are printed once, by report(), with the exit code they deserve.
  for (const command of [ats, ...ats.commands])
    command.exitOverride().configureOutput({ writeErr: () => {} });
  return ats;
}

async function main(argv: string[]): Promise<number> {
  const ats = program();
  try {
    await ats.parseAsync(argv);
    return Number(process.exitCode ?? EXIT.ok); // a command may report a finding (e.g. verify) this way
  } catch (err) {
    const command = ats.commands.find((c) => c.name() === argv[2]);
    if (err instanceof CommanderError && err.code === 'commander.help') {
      process.stderr.write((command ?? ats).helpInformation()); // called with no command at all
      return EXIT.usage;
    }
    return report(err, command ? `ats ${command.name()} --help` : 'ats --help');
  }
}

/** Prints one clear message for an error and returns the exit code it deserves. */
function report(err: unknown, hint: string): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
    return report(new UsageError(err.message.replace(/^error: /, ''), hint), hint);
  }
  if (err instanceof AtsError) {
    process.stderr.write(`Error: ${err.message}\n${err.hint === undefined ? '' : `Try: ${err.hint}\n`}`);
    return err.exitCode;
  }
  process.stderr.write(`Error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}

// A reader that stops early (`ats backups | head -1`) closes the pipe: stop writing to it, quietly,
// and let the command finish its work and exit with its own code. Any other stream error is real.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') return;
    throw err;
  });
}

// Past RLIMIT_FSIZE a write should fail with EFBIG (a clear error, temporary files removed)
// rather than the default SIGXFSZ killing the process mid-write.
process.on('SIGXFSZ', () => {});
process.exitCode = await main(process.argv);
