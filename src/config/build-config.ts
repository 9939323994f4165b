import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, DEFAULTS } from './config.js';
import { type ConfigSource, problemAt } from './config-source.js';
import { ConfigError } from './errors.js';
import { isLoopback } from './loopback.js';
import { tokenProblem } from './rules.js';
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
      token: server.token ?? tokenFromEnv(envToken),
      maxBodyBytes: server.max_body_bytes ?? DEFAULTS.server.maxBodyBytes,
      maxConnections: server.max_connections ?? DEFAULTS.server.maxConnections,
      requestTimeoutSeconds: server.request_timeout_seconds ?? DEFAULTS.server.requestTimeoutSeconds,
      shutdownGraceSeconds: server.shutdown_grace_seconds ?? DEFAULTS.server.shutdownGraceSeconds,
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

/** ATS_TOKEN checked like `[Server] token`. An empty one is how a shell unsets it: absent, never "". */
function tokenFromEnv(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const result = tokenProblem(raw);
  if (result.ok) return result.value;
  throw new ConfigError(`environment variable ATS_TOKEN ${result.problem}`, { key: 'ATS_TOKEN' });
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
