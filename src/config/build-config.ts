import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, DEFAULTS } from './config.js';
import { type ConfigSource, problemAt } from './config-source.js';
import { isLoopback } from './loopback.js';
import type { CheckedValues } from './schema.js';

/**
 * Applies defaults to the checked values, resolves paths against `source.baseDir`, takes the token
 * from ATS_TOKEN when the file has none, then checks the settings that depend on each other.
 */
export function buildConfig(values: CheckedValues, source: ConfigSource): Config {
  const { Database: db, Pulse: pulse, Server: server, ATS: ats } = values;
  const dbPath = path.resolve(source.baseDir, db.path ?? DEFAULTS.database.path);
  const backupDir =
    db.backup_dir === undefined ? path.dirname(dbPath) : path.resolve(source.baseDir, db.backup_dir);
  const envToken = source.env.ATS_TOKEN;
  const config: Config = {
    file: source.absolute,
    database: Object.freeze({
      path: dbPath,
      backupIntervalSeconds: db.backup_interval_seconds ?? DEFAULTS.database.backupIntervalSeconds,
      backupKeep: db.backup_keep ?? DEFAULTS.database.backupKeep,
      backupDir,
      backupVerify: db.backup_verify ?? DEFAULTS.database.backupVerify,
      backupEngine: db.backup_engine ?? DEFAULTS.database.backupEngine,
      backupTimeoutSeconds: db.backup_timeout_seconds ?? DEFAULTS.database.backupTimeoutSeconds,
      destinations: Object.freeze(
        (db.destination ?? []).map((d) =>
          Object.freeze({
            ...d,
            url: d.url.startsWith('s3://') ? d.url : resolveFolder(source.baseDir, d.url),
          }),
        ),
      ),
      maxWalBytes: db.max_wal_bytes ?? DEFAULTS.database.maxWalBytes,
    }),
    pulse: Object.freeze({
      tickerIntervalSeconds: pulse.ticker_interval_seconds ?? DEFAULTS.pulse.tickerIntervalSeconds,
    }),
    server: Object.freeze({
      host: server.host ?? DEFAULTS.server.host,
      port: server.port ?? DEFAULTS.server.port,
      // An empty ATS_TOKEN is how a shell unsets it: treat it as absent, never as the token "".
      token: server.token ?? (envToken === undefined || envToken === '' ? undefined : envToken),
      maxBodyBytes: server.max_body_bytes ?? DEFAULTS.server.maxBodyBytes,
    }),
    ats: Object.freeze({
      maxPerActorContext: ats.max_per_actor_context ?? DEFAULTS.ats.maxPerActorContext,
      maxBatch: ats.max_batch ?? DEFAULTS.ats.maxBatch,
    }),
  };
  checkExposure(config, source);
  return Object.freeze(config);
}

function resolveFolder(baseDir: string, url: string): string {
  return path.resolve(baseDir, url.startsWith('file://') ? fileURLToPath(url) : url);
}

/** A server reachable from other machines must ask for a token. */
function checkExposure(config: Config, source: ConfigSource): void {
  const { host, token } = config.server;
  if (token !== undefined || isLoopback(host)) return;
  throw problemAt(
    source,
    `[Server] host ${host} is not loopback: set [Server] token or ATS_TOKEN`,
    'Server',
    'host',
  );
}
