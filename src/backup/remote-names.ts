/**
 * Names of remote backup objects: `<UTC time>-<lineage>-<random>.atsb`, the time as
 * `YYYYMMDDTHHMMSSmmmZ` (fixed width), so that name order is time order in any listing and the
 * newest backup is the last name; the lineage in the name lets a listing show it without a read.
 * Leases (`<...>.lease`) mark objects a running restore needs.
 */
export const BACKUP_SUFFIX = '.atsb';
export const LEASE_SUFFIX = '.lease';
const BACKUP = /^(\d{8}T\d{9}Z)-([A-Za-z0-9]{1,36})-([0-9a-f]{4,16})\.atsb$/;

/** What a backup object's name says. */
export interface BackupName {
  readonly name: string;
  /** The name without `.atsb`: what `--id` and `verify URL/ID` take. */
  readonly id: string;
  readonly createdAt: string;
  readonly lineage: string;
}

/** A new object name for a backup of `lineage` taken at `createdAt`. */
export function backupName(createdAt: Date, lineage: string, random: string): string {
  const time = createdAt.toISOString().replace(/[-:.]/g, '');
  return `${time}-${lineage.replace(/[^A-Za-z0-9]/g, '').slice(0, 36) || 'unknown'}-${random}${BACKUP_SUFFIX}`;
}

/** Parses a backup object name; undefined for anything else (leases, foreign files). */
export function parseBackupName(name: string): BackupName | undefined {
  const match = BACKUP.exec(name);
  if (!match) return undefined;
  const t = match[1] ?? '';
  const createdAt = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}.${t.slice(15, 18)}Z`;
  if (Number.isNaN(Date.parse(createdAt))) return undefined;
  return Object.freeze({
    name,
    id: name.slice(0, -BACKUP_SUFFIX.length),
    createdAt,
    lineage: match[2] ?? '',
  });
}

/** The object name of an id as the user gives it (with or without `.atsb`). */
export function nameOfId(id: string): string {
  return id.endsWith(BACKUP_SUFFIX) ? id : `${id}${BACKUP_SUFFIX}`;
}
