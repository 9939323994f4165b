import fs from 'node:fs';
import path from 'node:path';
import {
  backupBase,
  fileId,
  generationPath,
  listGenerations,
  sameFile,
  verifyDatabase,
} from '../backup/index.js';
import { AtsError } from '../errors/index.js';
import { createDatabaseFile } from '../store/index.js';

/** The service (or a restore) will not start on this database. Exit code 1. */
export class StartupError extends AtsError {
  override readonly name = 'StartupError';
  declare readonly code: 'ATS_CLI_STARTUP';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ATS_CLI_STARTUP', message, options);
  }
}

/**
 * Refuses to start on a missing or empty (0-byte) database while backups of it exist: a data
 * volume that is not mounted must not become a fresh database whose backups then rotate over every
 * good one. `fresh` (`ats serve --fresh`) starts a new database on purpose. When the database does
 * not exist it is created empty, so the service lock can be keyed by its inode.
 */
export function checkDatabasePresent(
  database: string,
  backupDir: string,
  configFile: string | undefined,
  fresh: boolean,
): void {
  const stat = fs.statSync(database, { throwIfNoEntry: false });
  if (stat && stat.size > 0) return;
  // Only backups that can be of this database: those of another (a record naming another path)
  // are left to rotation, which refuses to replace them (ATS_BACKUP_LINEAGE).
  const real = realPathOf(database);
  const generations = listGenerations(backupBase(backupDir, database)).filter(
    (g) => g.record === undefined || g.record.source === real,
  );
  if (generations.length > 0 && !fresh) {
    const newest = generations[0]!;
    const taken = newest.record?.createdAt ?? newest.modifiedAt;
    const config = configFile ? ` --config ${configFile}` : '';
    throw new StartupError(
      `database ${database} ${stat ? 'is empty (0 bytes)' : 'does not exist'} but ${generations.length} backup(s) of it do ` +
        `(newest ${newest.file}, taken ${taken}): is its volume mounted? Restore with \`ats restore --from bak1${config}\`, ` +
        'or start a new, empty database on purpose with `ats serve --fresh`',
    );
  }
  if (!stat) createDatabaseFile(database); // 0600, whatever the umask; no SQLite connection exists yet
}

/**
 * Refuses to serve a database that does not open or fails `quick_check`, and names the newest
 * backup that passes, to restore by hand (the service never restores by itself).
 */
export function checkDatabase(database: string, backupDir: string, configFile: string | undefined): void {
  if ((fs.statSync(database, { throwIfNoEntry: false })?.size ?? 0) === 0) return; // a new database
  const check = verifyDatabase(database, 'quick');
  if (check.ok) return;
  const base = backupBase(backupDir, database);
  let advice = `no backup of it passes quick_check either (looked for ${generationPath(base, 1)})`;
  for (const g of listGenerations(base)) {
    if (!verifyDatabase(g.file, 'quick').ok) continue;
    const config = configFile ? ` --config ${configFile}` : ` --db ${database}`;
    advice = `the newest good backup is ${g.file}: restore it with \`ats restore --from ${g.name}${config}\``;
    break;
  }
  throw new StartupError(
    `database ${database} fails quick_check (${check.problems.slice(0, 2).join('; ')}); ${advice}`,
  );
}

/**
 * A backup folder must not hold another file named like the database (their generations would
 * mix); the database itself, under another name of the folder (a symlink), is not another file.
 */
export function checkBackupDir(database: string, backupDir: string): void {
  const namesake = backupBase(backupDir, database);
  if (namesake !== database && fs.existsSync(namesake) && !sameFile(fileId(namesake), fileId(database))) {
    throw new StartupError(
      `[Database] backup_dir ${backupDir} already holds a file named like the database (${namesake}): ` +
        'its backups would be mixed up with ours; choose another backup_dir',
    );
  }
}

function realPathOf(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
  }
}
