import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ensureLineage, finishInterruptedRestore } from '../../backup/index.js';
import { type Config, loadConfig } from '../../config/index.js';
import { BackupJob, CheckpointJob, Ticker } from '../../pulse/index.js';
import { buildApp, closeApp } from '../../server/index.js';
import { checkStorePath, openStore } from '../../store/index.js';
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
  checkStorePath(database.path); // before the lock file beside it is created
  checkBackupDir(database.path, database.backupDir);
  // Folders ats creates are its own (0700): nobody else may plant or delete backups.
  fs.mkdirSync(database.backupDir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(database.path), { recursive: true, mode: 0o700 }); // the service lock lives beside the database
  checkDatabasePresent(database.path, database.backupDir, config.file, fresh);
  const held = holdDatabase(database.path, 'ats serve');
  if ('heldBy' in held)
    throw new StartupError(`database ${database.path} is already in use by another process (${held.heldBy})`);
  try {
    await finishInterruptedRestore(database.path); // under the lock: never while a restore runs
    checkDatabase(database.path, database.backupDir, config.file);
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
      http: {
        maxConnections: server.maxConnections,
        requestTimeoutMs: server.requestTimeoutSeconds * 1000,
        shutdownGraceMs: server.shutdownGraceSeconds * 1000,
      },
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
    await closeApp(app, server.shutdownGraceSeconds * 1000); // bounded: stalled clients cannot hold it open
    await ticker.stop(); // cancels a running backup; its temporary file is removed
    store.close();
    log.info({ event: 'stopped' }, 'stopped');
  } finally {
    held.lock.release();
  }
}
