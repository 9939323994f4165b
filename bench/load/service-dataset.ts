import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { AttestationGenerator } from '../ats-rows.js';
import { fileSize, truncateWal } from '../dataset.js';
import { log } from '../log.js';
import { request, startService } from './service.js';

const BATCH = 1_000;

/**
 * The service's own database of about `sizeMb` MB, in the store's schema, filled once through
 * `POST /attestations` (batches of 1,000) and cached beside the other datasets.
 */
export async function ensureServiceDataset(dir: string, sizeMb: number): Promise<string> {
  const file = path.join(dir, `service-${sizeMb}mb.db`);
  const done = `${file}.json`;
  if (fs.existsSync(done) && fs.existsSync(file)) return file;
  log(`dataset: filling ${path.basename(file)} through the service's HTTP API (cached for later runs)`);
  for (const f of [file, `${file}-wal`, `${file}-shm`, done]) fs.rmSync(f, { force: true });
  fs.mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const service = await startService({ db: file, configFile: path.join(dir, `service-${sizeMb}mb.toml`), backupIntervalSeconds: 0 });
  const gen = new AttestationGenerator(0x5e7);
  let rows = 0;
  // The database's committed size, WAL included, read the way SQLite sees it.
  const probe = new Database(file, { readonly: true, fileMustExist: true });
  const bytes = (): number => Number(probe.pragma('page_count', { simple: true })) * Number(probe.pragma('page_size', { simple: true }));
  try {
    while (bytes() < sizeMb * 1024 * 1024) {
      const batch = Array.from({ length: BATCH }, () => gen.next());
      const res = await request(service.port, 'POST', '/attestations', batch);
      if (res.status !== 201) throw new Error(`fill ${file}: POST /attestations answered ${res.status}: ${res.text.slice(0, 300)}`);
      rows += BATCH;
    }
  } finally {
    probe.close();
    await service.stop();
  }
  truncateWal(file); // the cached file must hold everything by itself
  fs.rmSync(path.join(dir, `service-${sizeMb}mb.toml`), { force: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith(`service-${sizeMb}mb.db.bak`)) fs.rmSync(path.join(dir, f), { force: true });
  fs.writeFileSync(done, `${JSON.stringify({ sizeMb, rows, bytes: fileSize(file), buildMs: Math.round(performance.now() - started) })}\n`);
  log(`dataset: ${rows} attestations, ${(fileSize(file) / 1e6).toFixed(0)} MB`);
  return file;
}
