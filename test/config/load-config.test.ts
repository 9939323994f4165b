import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../dist/config/index.js';
import { refusal, removeDir, tempDir } from '../helpers.js';

let dir: string;

beforeEach(() => {
  dir = tempDir('ats-config-');
});

afterEach(() => {
  removeDir(dir);
});

/** Every path under `root`, to show loading created nothing. */
function tree(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

function refused(fn: () => unknown): ConfigError {
  return refusal(fn, ConfigError);
}

describe('loadConfig refuses', () => {
  it('an explicit path that does not exist, naming it', () => {
    const err = refused(() => loadConfig({ path: 'missing.toml', cwd: dir, env: {} }));
    expect(err.code).toBe('ATS_CONFIG_INVALID');
    expect(err.file).toBe('missing.toml');
    expect(err.message).toContain(path.join(dir, 'missing.toml'));
    expect(err.message).toContain('does not exist');
  });

  it('an explicit path that is a folder, naming it', () => {
    fs.mkdirSync(path.join(dir, 'conf'));
    const err = refused(() => loadConfig({ path: 'conf', cwd: dir, env: {} }));
    expect(err.message).toContain(path.join(dir, 'conf'));
    expect(err.message).toContain('is a folder');
  });

  it('an am.toml in the working folder that is a folder', () => {
    fs.mkdirSync(path.join(dir, 'am.toml'));
    expect(refused(() => loadConfig({ cwd: dir, env: {} })).message).toContain('is a folder');
  });

  it('an empty path', () => {
    expect(refused(() => loadConfig({ path: '', cwd: dir, env: {} })).message).toContain(
      'config path must be a non-empty string',
    );
  });

  it('a file that does not validate, with the file name as given and the line', () => {
    fs.writeFileSync(path.join(dir, 'am.toml'), '[Database]\nbackup_keep = 0\n');
    const err = refused(() => loadConfig({ path: 'am.toml', cwd: dir, env: {} }));
    expect(err.message).toBe(
      'am.toml:2: [Database] backup_keep must be a whole number from 1 to 1000 (got 0)',
    );
    expect(err.key).toBe('Database.backup_keep');
    expect(err.line).toBe(2);
  });
});

describe('loadConfig reads', () => {
  it('an explicit file, resolving its paths against its own folder', () => {
    fs.mkdirSync(path.join(dir, 'etc'));
    fs.writeFileSync(
      path.join(dir, 'etc', 'site.toml'),
      '[Database]\npath = "../var/main.db"\nbackup_dir = "bk"\n',
    );
    const config = loadConfig({ path: 'etc/site.toml', cwd: dir, env: {} });
    expect(config.file).toBe(path.join(dir, 'etc', 'site.toml'));
    expect(config.database.path).toBe(path.join(dir, 'var', 'main.db'));
    expect(config.database.backupDir).toBe(path.join(dir, 'etc', 'bk'));
  });

  it('an absolute explicit path whatever the working folder', () => {
    const file = path.join(dir, 'x.toml');
    fs.writeFileSync(file, '[Server]\nport = 9000\n');
    expect(loadConfig({ path: file, cwd: '/', env: {} }).server.port).toBe(9000);
  });

  it('am.toml from the working folder when no path is given', () => {
    fs.writeFileSync(path.join(dir, 'am.toml'), '\uFEFF[ATS]\nmax_batch = 10\n');
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config.file).toBe(path.join(dir, 'am.toml'));
    expect(config.ats.maxBatch).toBe(10);
    expect(config.database.path).toBe(path.join(dir, 'data', 'ats.db'));
  });

  it('the defaults when there is no file, resolved against the working folder', () => {
    const config = loadConfig({ cwd: dir, env: { ATS_TOKEN: 'tok' } });
    expect(config.file).toBeUndefined();
    expect(config.database.path).toBe(path.join(dir, 'data', 'ats.db'));
    expect(config.database.backupDir).toBe(path.join(dir, 'data'));
    expect(config.server.token).toBe('tok');
    for (const part of [config, config.database, config.pulse, config.server, config.ats])
      expect(Object.isFrozen(part)).toBe(true);
  });

  it('without creating anything on disk', () => {
    fs.writeFileSync(
      path.join(dir, 'am.toml'),
      '[Database]\npath = "deep/er/ats.db"\nbackup_dir = "backups"\n',
    );
    const before = tree(dir);
    loadConfig({ cwd: dir, env: {} });
    loadConfig({ cwd: path.join(dir), path: 'am.toml', env: {} });
    expect(tree(dir)).toEqual(before);
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    loadConfig({ cwd: empty, env: {} });
    expect(tree(empty)).toEqual([]);
  });
});
