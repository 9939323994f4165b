import Database from 'better-sqlite3';
import { Command } from 'commander';
import {
  describeContinuous,
  generationPath,
  type LineageSummary,
  listGenerations,
  verifyDatabase,
} from '../../backup/index.js';
import { objectStoreFor } from '../continuous-setup.js';
import { resolveDatabase, withDatabaseOptions } from '../database-options.js';
import { isDestinationUrl, listRemote } from '../offsite.js';
import { formatBytes } from '../progress.js';

/** `ats backups`: the generations on disk, each checked now. */
export function backupsCommand(): Command {
  return withDatabaseOptions(new Command('backups'))
    .description('list the backup generations with time, size, pages and a quick_check of each')
    .option('--json', 'print the list as JSON on stdout')
    .option(
      '--from <url>',
      'list a destination instead: backups and continuous ranges at s3://BUCKET/PREFIX, file:///FOLDER or a folder',
    )
    .action(async (flags: { config?: string; db?: string; json?: boolean; from?: string }) => {
      if (flags.from !== undefined) {
        await listFrom(flags.from, flags.json === true);
        return;
      }
      const { target, database } = resolveDatabase(flags, 'backups');
      const rows = listGenerations(target).map((g) => {
        const verify = verifyDatabase(g.file, 'quick');
        return {
          generation: g.name,
          file: g.file,
          createdAt: g.record?.createdAt ?? null,
          modifiedAt: g.modifiedAt,
          bytes: g.bytes,
          pages: verify.ok ? pageCount(g.file) : null,
          lineage: g.record?.lineage ?? null,
          source: g.record?.source ?? null,
          verify,
        };
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ database, backups: rows }, null, 2)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write(`no backups of ${database} (looked for ${generationPath(target, 1)})\n`);
        return;
      }
      for (const r of rows) {
        const state = r.verify.ok ? 'ok' : `FAILED: ${r.verify.problems[0] ?? ''}`;
        process.stdout.write(
          `${r.generation}  ${r.createdAt ?? r.modifiedAt}  ${formatBytes(r.bytes).padStart(10)}  ${String(r.pages ?? '-').padStart(8)} pages  quick_check ${state}  ${r.file}\n`,
        );
      }
    });
}

function pageCount(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return Number(db.pragma('page_count', { simple: true }));
  } finally {
    db.close();
  }
}

/**
 * `--from`: a folder path is a continuous destination; a file:// or s3:// URL holds snapshot
 * objects and may hold continuous lineages too (both are listed).
 */
async function listFrom(url: string, json: boolean): Promise<void> {
  if (!isDestinationUrl(url)) return listContinuous(url, json);
  const lineages = await describeContinuous(objectStoreFor(url));
  if (lineages.length === 0) return listRemote(url, json);
  if (json) return listRemote(url, true, { lineages });
  await listRemote(url, false);
  await listContinuous(url, false, lineages);
}

async function listContinuous(url: string, json: boolean, known?: readonly LineageSummary[]): Promise<void> {
  const lineages = known ?? (await describeContinuous(objectStoreFor(url)));
  if (json) {
    process.stdout.write(`${JSON.stringify({ from: url, lineages }, null, 2)}\n`);
    return;
  }
  if (lineages.length === 0) {
    process.stdout.write(`no continuous backup at ${url}\n`);
    return;
  }
  for (const l of lineages) {
    process.stdout.write(`lineage ${l.lineage} (started ${l.startedAt})\n`);
    for (const s of l.snapshots)
      process.stdout.write(`  snapshot  ${l.lineage}/${s.txid}  ${s.at}  ${s.pages} pages\n`);
    if (l.continuous)
      process.stdout.write(
        `  continuous  txid ${l.continuous.fromTxid}..${l.continuous.toTxid}  ${l.continuous.from} .. ${l.continuous.to}\n`,
      );
    for (const g of l.gaps) process.stdout.write(`  GAP  transactions ${g} are missing\n`);
    process.stdout.write(
      `  restorable  ${l.restorable.from} .. ${l.restorable.to}  (newest position ${l.restorable.newestPosition})\n`,
    );
  }
}
