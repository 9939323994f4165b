import fs from 'node:fs';
import path from 'node:path';
import { generationPath, verifyDatabase } from '../backup/index.js';
import { AtsError } from '../errors/index.js';

/** The service (or a restore) will not start on this database. Exit code 1. */
export class StartupError extends AtsError {
  override readonly name = 'StartupError';
  declare readonly code: 'ATS_CLI_STARTUP';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ATS_CLI_STARTUP', message, options);
  }
}

/**
 * Refuses to serve a database that does not open or fails `quick_check`, and names the newest
 * backup that passes, to restore by hand (the service never restores by itself).
 */
export function checkDatabase(database: string, backupDir: string, configFile: string | undefined): void {
  if (!fs.existsSync(database)) return; // created on first start
  const check = verifyDatabase(database, 'quick');
  if (check.ok) return;
  const target = path.join(backupDir, path.basename(database));
  let advice = `no backup of it passes quick_check either (looked for ${generationPath(target, 1)})`;
  for (let n = 1; fs.existsSync(generationPath(target, n)); n++) {
    if (!verifyDatabase(generationPath(target, n), 'quick').ok) continue;
    const config = configFile ? ` --config ${configFile}` : ` --db ${database}`;
    advice = `the newest good backup is ${generationPath(target, n)}: restore it with \`ats restore --from bak${n}${config}\``;
    break;
  }
  throw new StartupError(
    `database ${database} fails quick_check (${check.problems.slice(0, 2).join('; ')}); ${advice}`,
  );
}

/** A backup folder must not hold another file named like the database: their generations would mix. */
export function checkBackupDir(database: string, backupDir: string): void {
  const namesake = path.join(backupDir, path.basename(database));
  if (namesake !== database && fs.existsSync(namesake)) {
    throw new StartupError(
      `[Database] backup_dir ${backupDir} already holds a file named like the database (${namesake}): ` +
        'its backups would be mixed up with ours; choose another backup_dir',
    );
  }
}
