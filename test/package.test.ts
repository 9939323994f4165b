import { execFileSync } from 'node:child_process';
// Imported by the package's name, as a library user would: resolved through package.json "exports".
import * as backup from 'ats/backup';
import * as config from 'ats/config';
import * as store from 'ats/store';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

describe('the package surface', () => {
  it('exports the backup engine, the store and the config loader by name', () => {
    expect(typeof backup.runBackup).toBe('function');
    expect(typeof backup.BackupError).toBe('function');
    expect(typeof store.openStore).toBe('function');
    expect(typeof config.parseConfig).toBe('function');
    expect(typeof config.loadConfig).toBe('function');
  });

  it('plain Node resolves the same names, and refuses deep imports into the build', () => {
    const script = `
      const names = {};
      for (const spec of ['ats', 'ats/backup', 'ats/store', 'ats/config'])
        names[spec] = Object.keys(await import(spec)).sort();
      let deep;
      try { await import('ats/dist/backup/index.js'); deep = 'imported'; } catch (err) { deep = err.code; }
      console.log(JSON.stringify({ names, deep }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const { names, deep } = JSON.parse(out) as { names: Record<string, string[]>; deep: string };
    expect(names['ats/backup']).toContain('runBackup');
    expect(names.ats).toEqual(names['ats/backup']);
    expect(names['ats/store']).toContain('openStore');
    expect(names['ats/config']).toContain('parseConfig');
    expect(deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
