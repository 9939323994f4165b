import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { AttestationGenerator } from '../ats-rows.js';
import { truncateWal } from '../dataset.js';
import { log } from '../log.js';
import { ROOT } from '../paths.js';

type Store = typeof import('../../dist/store/index.js');

// Within the store's per-batch budget (1 MiB of text): 300 attestations of 3 KB each.
const BATCH = 300;
/**
 * The store's put() costs about the same per attestation whatever its size (terms, value indexes,
 * enforce_limits), so these carry a 3 KB description: 1 GB then takes ~8× fewer puts to build.
 */
const PADDING_BYTES = 3_000;
/** The service's default enforce_limits bound ([ats] max_per_actor_context). */
const MAX_PER_ACTOR_CONTEXT = 64;

/**
 * The service's own database of about `sizeMb` MB, in the store's schema: filled once through the
 * store's own `put()` (the code path `POST /attestations` uses, without HTTP), in batches of
 * 300 (the per-batch budget), and cached beside the other datasets.
 */
export async function ensureServiceDataset(dir: string, sizeMb: number): Promise<string> {
  const file = path.join(dir, `service-${sizeMb}mb.db`);
  const done = `${file}.json`;
  if (fs.existsSync(done) && fs.existsSync(file)) return file;
  log(`dataset: filling ${path.basename(file)} through the store (cached for later runs)`);
  for (const f of [file, `${file}-wal`, `${file}-shm`, done]) fs.rmSync(f, { force: true });
  fs.mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const { openStore } = (await import(pathToFileURL(path.join(ROOT, 'dist/store/index.js')).href)) as Store;
  const store = openStore(file, { maxPerActorContext: MAX_PER_ACTOR_CONTEXT, maxBatch: BATCH });
  // The store never checkpoints on commit (the service's ticker does): this connection does it.
  const side = new Database(file);
  const bytes = (): number =>
    Number(side.pragma('page_count', { simple: true })) * Number(side.pragma('page_size', { simple: true }));
  const gen = new AttestationGenerator(0x5e7, PADDING_BYTES);
  let rows = 0;
  try {
    while (bytes() < sizeMb * 1024 * 1024) {
      store.put(Array.from({ length: BATCH }, () => gen.next()));
      rows += BATCH;
      side.pragma('wal_checkpoint(TRUNCATE)');
    }
  } finally {
    side.close();
    store.close();
  }
  truncateWal(file); // the cached file must hold everything by itself
  fs.writeFileSync(
    done,
    `${JSON.stringify({ sizeMb, rows, bytes: fs.statSync(file).size, buildMs: Math.round(performance.now() - started) })}\n`,
  );
  log(
    `dataset: ${rows} attestations, ${(fs.statSync(file).size / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return file;
}
