import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { type Config, loadConfig } from '../../config/index.js';
import { BackupJob, CheckpointJob, Ticker } from '../../pulse/index.js';
import { buildApp } from '../../server/index.js';
import { openStore } from '../../store/index.js';
import { continuousJobFor } from '../continuous-setup.js';
import { createLogger } from '../logger.js';
import { holdDatabase } from '../service-lock.js';
import { checkBackupDir, checkDatabase, StartupError } from '../startup-check.js';

/** `ats serve`: the attestation store over HTTP, with the Pulse ticker backing it up. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the attestation store over HTTP and back it up periodically')
    .option('--config <path>', 'the am.toml to use (default: ./am.toml when present, else the defaults)')
    .action(async (flags: { config?: string }) => {
      await serve(loadConfig({ path: flags.config }));
    });
}

async function serve(config: Config): Promise<void> {
  const { database, server, pulse, ats } = config;
  const log = createLogger();
  checkBackupDir(database.path, database.backupDir);
  fs.mkdirSync(database.backupDir, { recursive: true });
  fs.mkdirSync(path.dirname(database.path), { recursive: true }); // the service lock lives beside the database
  const held = holdDatabase(database.path, 'ats serve');
  if ('heldBy' in held)
    throw new StartupError(`database ${database.path} is already in use by another process (${held.heldBy})`);
  try {
    checkDatabase(database.path, database.backupDir, config.file);
    const store = openStore(database.path, ats);
    // Continuous WAL shipping: resumed or snapshotted before the first write is taken.
    const continuous = continuousJobFor(config, log);
    await continuous?.start();
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
    const ticker = new Ticker(
      pulse.tickerIntervalSeconds * 1000,
      [
        backups,
        new CheckpointJob(database.path, log, continuous && (() => continuous.beforeCheckpoint())),
        ...(continuous ? [continuous] : []),
      ],
      log,
    );
    const app = await buildApp({
      store,
      backups,
      logger: log,
      maxBodyBytes: server.maxBodyBytes,
      maxBatch: ats.maxBatch,
      token: server.token,
      afterWrite: continuous && (() => continuous.noteCommit()),
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
    await continuous?.stop(); // every committed transaction sealed and uploaded before the last checkpoint
    await ticker.stop(); // cancels a running backup; its temporary file is removed
    store.close();
    log.info({ event: 'stopped' }, 'stopped');
  } finally {
    held.lock.release();
  }
}
