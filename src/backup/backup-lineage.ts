import { readLineage } from './lineage.js';

/**
 * The lineage id recorded in a backup file (see lineage.ts), or 'none' for a database ats did not
 * make: an upload names its object by it and never fails for want of one.
 */
export function lineageOfFile(file: string): string {
  try {
    return readLineage(file)?.id ?? 'none';
  } catch {
    return 'none';
  }
}
