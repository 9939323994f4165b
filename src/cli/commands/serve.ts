import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ensureLineage, finishInterruptedRestore, loadKeyFile, openDestination } from '../../backup/index.js';
import { type Config, type DestinationConfig, loadConfig } from '../../config/index.js';
import type { Logger } from '../../pulse/index.js';
import { BackupJob, CheckpointJob, OffsiteJob, Ticker } from '../../pulse/index.js';
import { buildApp } from '../../server/index.js';
import { openStore } from '../../store/index.js';
import { createLogger } from '../logger.js';
import { holdDatabase } from '../service-lock.js';
import { checkBackupDir, checkDatabase, checkDatabasePresent, StartupError } from '../startup-check.js';

/** `ats serve`: the attestation store over HTTP, with the Pulse ticker backing it up. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the attestation store over HTTP and back it up periodically')
    .option('--config <path>', 'the am.toml to use (default: ./am.toml when present, else the defaults)')
    .option('--fresh', 'start a new, empty database even though backups of a missing one exist')
    .action(async (flags: { config?: string; fresh?: boolean }) => {
      await serve(loadConfig({ path: flags.config }), flags.fresh === true);
    });
}

async function serve(config: Config, fresh: boolean): Promise<void> {
  const { database, server, pulse, ats } = config;
  const log = createLogger();
  checkBackupDir(database.path, database.backupDir);
  fs.mkdirSync(database.backupDir, { recursive: true });
  fs.mkdirSync(path.dirname(database.path), { recursive: true }); // the service lock lives beside the database
  checkDatabasePresent(database.path, database.backupDir, config.file, fresh);
  const held = holdDatabase(database.path, 'ats serve');
  if ('heldBy' in held)
    throw new StartupError(`database ${database.path} is already in use by another process (${held.heldBy})`);
  try {
    await finishInterruptedRestore(database.path); // under the lock: never while a restore runs
    checkDatabase(database.path, database.backupDir, config.file);
    const offsite = offsiteJob(database.destinations, log); // before anything opens: a bad key refuses to start
    ensureLineage(database.path); // before the store opens it: lineage is the backup part's table
    const store = openStore(database.path, ats);
    const backups = new BackupJob(
      {
        database: database.path,
        backupDir: database.backupDir,
        intervalSeconds: database.backupIntervalSeconds,
        keep: database.backupKeep,
        verify: database.backupVerify,
        timeoutSeconds: database.backupTimeoutSeconds,
      },
      log,
    );
    if (offsite) backups.on('success', (result) => offsite.enqueue(result.file, result.record));
    const ticker = new Ticker(
      pulse.tickerIntervalSeconds * 1000,
      [backups, new CheckpointJob(database.path, log)],
      log,
    );
    const app = await buildApp({
      store,
      backups,
      logger: log,
      maxBodyBytes: server.maxBodyBytes,
      maxBatch: ats.maxBatch,
      token: server.token,
      offsite,
    });
    const url = await app
      .listen({ host: server.host, port: server.port })
      .catch((err: NodeJS.ErrnoException) => {
        throw new StartupError(
          `cannot listen on ${server.host}:${server.port} ([Server] host and port): ${err.code ?? err.message}`,
        );
      });
    log.info(
      {
        event: 'listening',
        url,
        database: database.path,
        config: config.file ?? null,
        backupIntervalSeconds: database.backupIntervalSeconds,
      },
      `listening on ${url}`,
    );
    ticker.start();

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    log.info({ event: 'shutdown', signal, backupRunning: backups.running }, 'shutting down');
    await app.close();
    await ticker.stop(); // cancels a running backup; its temporary file is removed
    await offsite?.stop(); // an interrupted upload leaves nothing visible remotely
    store.close();
    log.info({ event: 'stopped' }, 'stopped');
  } finally {
    held.lock.release();
  }
}

/**
 * The uploads to `[[Database.destination]]`, or undefined when there is none. Every key is loaded
 * here, before the service starts: a destination that asks for encryption never uploads in clear.
 */
function offsiteJob(destinations: readonly DestinationConfig[], log: Logger): OffsiteJob | undefined {
  if (destinations.length === 0) return undefined;
  return new OffsiteJob(
    destinations.map((d) => ({
      destination: openDestination(d.url),
      key: d.encryptionKeyFile === undefined ? undefined : loadKeyFile(d.encryptionKeyFile),
      retention: { keep: d.keep, keepDays: d.keepDays },
    })),
    log,
  );
}
