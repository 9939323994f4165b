import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ensureLineage, finishInterruptedRestore, loadKeyFile, openDestination } from '../../backup/index.js';
import { type Config, type DestinationConfig, loadConfig } from '../../config/index.js';
import type { Logger } from '../../pulse/index.js';
import { BackupJob, CheckpointJob, OffsiteJob, Ticker } from '../../pulse/index.js';
import { buildApp, closeApp } from '../../server/index.js';
import { checkStorePath, type EvictionEvent, openStore, WAL_SIZE_LIMIT_BYTES } from '../../store/index.js';
import { continuousJobFor } from '../continuous-setup.js';
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

// SIGTERM's last checkpoint may take this long; past it the rest of the WAL stays for the next start.
const FINAL_CHECKPOINT_MS = 10_000;
/** The most a periodic backup waits for a WAL restart before it takes its snapshot. */
const SHORT_LOG_WAIT_MS = 1_000;
// A WAL larger than this at start is worth a line saying why the start takes time.
const LARGE_WAL_BYTES = 64 << 20;

/**
 * The store's eviction drain in the log: one line when a backlog is drained; a failed slice (it is
 * retried every second) once per run of failures with the same code, so a long WAL-cap pause is one line.
 */
function logEviction(log: Logger): (event: EvictionEvent) => void {
  let failing: string | undefined;
  return (event) => {
    if (event.kind === 'failed') {
      if (failing === event.error.code) return;
      failing = event.error.code;
      log.warn(
        {
          event: 'eviction_retry',
          code: event.error.code,
          reason: event.error.message,
          retryInMs: event.retryInMs,
        },
        'an eviction slice failed; retrying until it succeeds',
      );
      return;
    }
    failing = undefined;
    if (event.kind === 'drained')
      log.info(
        {
          event: 'eviction_drained',
          slices: event.slices,
          attestations: event.attestations,
          rows: event.rows,
          maxSliceMs: Math.round(event.maxSliceMs * 10) / 10,
        },
        `eviction backlog drained: ${event.attestations} attestations past max_per_actor_context removed in ${event.slices} slices`,
      );
  };
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
  let onStopSignal: ((signal: NodeJS.Signals) => void) | undefined;
  if ('heldBy' in held)
    throw new StartupError(`database ${database.path} is already in use by another process (${held.heldBy})`);
  try {
    const walAtStart = fs.statSync(`${database.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (walAtStart > LARGE_WAL_BYTES)
      log.info(
        { event: 'wal_recovery', walBytes: walAtStart },
        `the WAL holds ${(walAtStart / 2 ** 20).toFixed(0)} MiB from before: WAL recovery and the start-up check take a while`,
      );
    await finishInterruptedRestore(database.path); // under the lock: never while a restore runs
    // Continuous WAL shipping pins the database before anything else opens it: a connection that
    // closes last (the start-up check's) would checkpoint frames not shipped yet into the file and
    // delete the WAL, and the shipper could no longer prove where it left off.
    const offsite = offsiteJob(database.destinations, log); // before anything opens: a bad key refuses to start
    const continuous = continuousJobFor(config, log);
    const exists = (fs.statSync(database.path, { throwIfNoEntry: false })?.size ?? 0) > 0;
    if (continuous !== undefined && exists) await continuous.start();
    let started = performance.now();
    checkDatabase(database.path, database.backupDir, config.file);
    log.info(
      { event: 'startup_check', ms: Math.round(performance.now() - started) },
      'start-up check passed',
    );
    ensureLineage(database.path); // before the store opens it: lineage is the backup part's table
    started = performance.now();
    const store = openStore(database.path, ats, { onEviction: logEviction(log) });
    const { evictionBacklog } = store.stats();
    log.info(
      { event: 'store_open', ms: Math.round(performance.now() - started), evictionBacklog },
      evictionBacklog > 0
        ? `database open; ${evictionBacklog} (actor, context) pairs wait for eviction from before, draining`
        : 'database open',
    );
    await continuous?.start(); // a new database: only now does it exist (no-op when started above)
    const backups = new BackupJob(
      {
        database: database.path,
        backupDir: database.backupDir,
        intervalSeconds: database.backupIntervalSeconds,
        keep: database.backupKeep,
        verify: database.backupVerify,
        timeoutSeconds: database.backupTimeoutSeconds,
        engine: database.backupEngine,
        // The snapshot pins the WAL: taken right after a restart, it pins a short log.
        beforeSnapshot: (): Promise<void> => checkpoints.shortLog(SHORT_LOG_WAIT_MS),
      },
      log,
    );
    if (offsite) backups.on('success', (result) => offsite.enqueue(result.file, result.record));
    const checkpoints = new CheckpointJob(
      {
        database: database.path,
        journalSizeLimitBytes: WAL_SIZE_LIMIT_BYTES,
        maxWalBytes: database.maxWalBytes,
        writes: store.writes,
        pinnedBy: (): string | undefined => (backups.holdsSnapshot ? 'the running backup' : undefined),
        finalCheckpointMs: FINAL_CHECKPOINT_MS,
        // Seal, ship, then checkpoint: the shipper seals before every step, and runs the steps that
        // restart the WAL itself, between its seal and its new pin.
        beforeCheckpoint: continuous && ((step) => continuous.beforeCheckpoint(step.mode)),
      },
      log,
    );
    const ticker = new Ticker(
      pulse.tickerIntervalSeconds * 1000,
      [backups, checkpoints, ...(continuous ? [continuous] : [])],
      log,
    );
    const app = await buildApp({
      store,
      backups,
      checkpoints,
      logger: log,
      maxBodyBytes: server.maxBodyBytes,
      maxBatch: ats.maxBatch,
      token: server.token,
      offsite,
      afterWrite: continuous && (() => continuous.noteCommit()),
      continuous, // positions in write replies, and waits for them to be off-site
      http: {
        maxConnections: server.maxConnections,
        requestTimeoutMs: server.requestTimeoutSeconds * 1000,
        shutdownGraceMs: server.shutdownGraceSeconds * 1000,
      },
    });
    // From before the first connection: a SIGTERM from then on is a graceful stop. Without a listener
    // Node leaves the signal's default action in place, which killed a service stopped right after
    // its 'listening' line (4 of 6 tries) before it reached this point. A second signal during the
    // shutdown (an impatient supervisor) is logged, not fatal: the shutdown has its own deadlines.
    let stopping = false;
    let stopWith: (signal: NodeJS.Signals) => void = () => {};
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      stopWith = resolve;
    });
    onStopSignal = (signal: NodeJS.Signals): void => {
      if (stopping)
        log.warn({ event: 'shutdown_signal_again', signal }, `${signal} again: already shutting down`);
      stopping = true;
      stopWith(signal);
    };
    process.on('SIGINT', onStopSignal);
    process.on('SIGTERM', onStopSignal);
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

    const signal = await stopSignal;
    log.info({ event: 'shutdown', signal, backupRunning: backups.running }, 'shutting down');
    // Nothing may commit after the last shipping and checkpoint: an eviction backlog waits for the next start.
    store.stopEviction();
    await closeApp(app, server.shutdownGraceSeconds * 1000); // bounded: stalled clients cannot hold it open
    await continuous?.stop(); // every committed transaction sealed and uploaded before the last checkpoint
    await backups.stop(); // cancels a running backup (its temporary file is removed): it pins the WAL
    await offsite?.stop(); // an interrupted upload leaves nothing visible remotely
    started = performance.now();
    await ticker.stop(); // the checkpoint job's last pass, within FINAL_CHECKPOINT_MS
    const walLeft = fs.statSync(`${database.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (checkpoints.walCopied)
      store.close(); // every frame is in the database: closing costs nothing
    // Closing would make SQLite copy the rest now, with no deadline. Every commit is in the WAL,
    // and the next start recovers it: exit with the connection open instead.
    else
      log.warn(
        { event: 'shutdown_wal_left', walBytes: walLeft, deadlineMs: FINAL_CHECKPOINT_MS },
        `the final checkpoint did not finish in ${FINAL_CHECKPOINT_MS / 1000} s: the WAL (${(walLeft / 2 ** 20).toFixed(0)} MiB) is left for the next start`,
      );
    log.info({ event: 'stopped', finalCheckpointMs: Math.round(performance.now() - started) }, 'stopped');
  } finally {
    if (onStopSignal !== undefined) {
      process.off('SIGINT', onStopSignal);
      process.off('SIGTERM', onStopSignal);
    }
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
