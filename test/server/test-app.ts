import path from 'node:path';
import pino from 'pino';
import { BackupJob } from '../../dist/pulse/index.js';
import { type AppDeps, buildApp } from '../../dist/server/index.js';
import { type AttestationStore, openStore } from '../../dist/store/index.js';
import { removeDir, tempDir } from '../helpers.js';

/** The real app on a real database in a fresh folder; `close()` closes both and removes the folder. */
export interface TestApp {
  readonly app: Awaited<ReturnType<typeof buildApp>>;
  readonly store: AttestationStore;
  readonly dir: string;
  readonly database: string;
  close(): Promise<void>;
}

/** Builds the app as `ats serve` does, with `overrides` of its dependencies. */
export async function testApp(overrides: Partial<Omit<AppDeps, 'store' | 'backups'>> = {}): Promise<TestApp> {
  const dir = tempDir('ats-app-');
  const database = path.join(dir, 'ats.db');
  const maxBatch = overrides.maxBatch ?? 1000;
  const store = openStore(database, { maxPerActorContext: 64, maxBatch });
  const backups = new BackupJob(
    { database, backupDir: dir, intervalSeconds: 0, keep: 2, verify: 'quick', timeoutSeconds: 60 },
    pino({ level: 'silent' }),
  );
  const app = await buildApp({
    store,
    backups,
    logger: pino({ level: 'silent' }),
    maxBodyBytes: 4 * 1024 * 1024,
    maxBatch,
    token: undefined,
    ...overrides,
  });
  return {
    app,
    store,
    dir,
    database,
    async close() {
      await app.close();
      store.close();
      removeDir(dir);
    },
  };
}

/** `n` distinct values `prefix-0` ... */
export function values(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}
