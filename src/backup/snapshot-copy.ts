import { backupApiCopy } from './backup-api-engine.js';
import { blockCopy } from './block-copy/block-engine.js';
import { createTmp, openSource } from './copy-files.js';
import type { CopyHooks, CopyRequest, CopyResult } from './copy-request.js';
import { BackupError } from './errors.js';

export type { BlockCopyStats, CopyHooks, CopyRequest, CopyResult } from './copy-request.js';

/**
 * Copies one consistent snapshot of `source` into `tmp`, fsyncs and verifies it, with the engine
 * the request names. 'auto' (the default) runs the block engine (a bulk copy of the file plus the
 * snapshot's WAL frames, at the speed of copying the file) and, when one of its preconditions does
 * not hold, the backup-API engine instead: the result says which ran and why. 'block' insists on
 * the block engine and fails with the reason; 'backup-api' never tries it.
 */
export async function copySnapshot(req: CopyRequest, hooks: CopyHooks): Promise<CopyResult> {
  const src = openSource(req.source);
  try {
    createTmp(req.tmp, req.mode);
    if (req.engine === 'backup-api') return await backupApiCopy(src, req, hooks, undefined);
    const outcome = await blockCopy(src, req, hooks);
    if ('result' in outcome) return outcome.result;
    if (req.engine === 'block') {
      throw new BackupError(
        'ATS_BACKUP_COPY',
        'block copy',
        req.source,
        `${outcome.fallback} (engine "auto" would use the backup API)`,
      );
    }
    return await backupApiCopy(src, req, hooks, outcome.fallback);
  } finally {
    src.close();
  }
}
