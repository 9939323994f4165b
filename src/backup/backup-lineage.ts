import Database from 'better-sqlite3';

/**
 * The lineage id recorded in a database or backup file (the newest row of `ats_lineage`, the
 * table the catalogue keeps), or 'none' when the file has none (a database not made by ats, or
 * from before lineages). Read-only; never throws for a file without the table.
 */
export function lineageOfFile(file: string): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const exists = db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'ats_lineage'")
      .get();
    if (!exists) return 'none';
    const row = db.prepare('SELECT id FROM ats_lineage ORDER BY seq DESC LIMIT 1').get() as
      | { id: string }
      | undefined;
    return row?.id ?? 'none';
  } catch {
    return 'none';
  } finally {
    db?.close();
  }
}
