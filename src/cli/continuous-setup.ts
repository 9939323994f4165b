import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EncryptingStore,
  type EncryptionKey,
  FolderStore,
  loadKeyFile,
  type ObjectStore,
  openDestination,
  streamStore,
} from '../backup/index.js';
import type { Config } from '../config/index.js';
import { ContinuousJob, type Logger } from '../pulse/index.js';
import { StartupError } from './startup-check.js';

/**
 * The object store a destination URL names (s3://BUCKET/PREFIX, file:///FOLDER or a folder path),
 * behind the encryption layer: with `key` every object is put encrypted; without, an encrypted
 * object read back is refused naming the key it needs.
 */
export function objectStoreFor(url: string, key?: EncryptionKey): ObjectStore {
  return new EncryptingStore(plainStoreFor(url), key);
}

function plainStoreFor(url: string): ObjectStore {
  if (url.startsWith('s3://')) return streamStore(openDestination(url));
  return new FolderStore(url.startsWith('file://') ? fileURLToPath(url) : path.resolve(url));
}

/** The continuous-shipping job of the config's continuous destination, or undefined when it has none. */
export function continuousJobFor(config: Config, log: Logger): ContinuousJob | undefined {
  const { database } = config;
  const continuous = database.destinations.filter((d) => d.continuous);
  if (continuous.length === 0) return undefined;
  if (continuous.length > 1)
    throw new StartupError(
      `[[Database.destination]]: ${continuous.length} destinations have continuous = true; one continuous destination per database for now`,
    );
  const d = continuous[0] as (typeof continuous)[number];
  return new ContinuousJob(
    {
      database: database.path,
      // The key was checked at load (a destination that asks for encryption never uploads in clear).
      store: objectStoreFor(
        d.url,
        d.encryptionKeyFile === undefined ? undefined : loadKeyFile(d.encryptionKeyFile),
      ),
      stagingDir: path.join(database.backupDir, `${path.basename(database.path)}.wal-staging`),
      syncIntervalMs: d.syncIntervalSeconds * 1000,
      snapshotIntervalMs: d.snapshotIntervalSeconds * 1000,
      retention: { keep: d.keep, keepDays: d.keepDays },
    },
    log,
  );
}
