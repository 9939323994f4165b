import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FAULTS } from '../faults/catalog.js';
import { listDir, runCli, tempDir } from '../helpers.js';

let dir: string;
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// Every usage mistake exits 2 with "Error: ..." naming what is wrong, a "Try:" hint, and writes nothing.
const CASES: [string[], RegExp, string][] = [
  [['backup'], /required option '--db <path>' not specified/, 'ats backup --help'],
  [['backup', '--db'], /option '--db <path>' argument missing/, 'ats backup --help'],
  [
    ['backup', '--db', 'x.db', '--keep', 'two'],
    /--keep must be a whole number from 1 to 1000 \(got "two"\)/,
    'ats backup --help',
  ],
  [
    ['backup', '--db', 'x.db', '--keep', '0'],
    /--keep must be a whole number from 1 to 1000 \(got "0"\)/,
    'ats backup --help',
  ],
  [
    ['backup', '--db', 'x.db', '--verify', 'fast'],
    /--verify must be one of quick, full, off \(got "fast"\)/,
    'ats backup --help',
  ],
  [['backup', '--db', 'x.db', '--bogus'], /unknown option '--bogus'/, 'ats backup --help'],
  [['verify'], /missing required argument 'file'/, 'ats verify --help'],
  [
    ['backups', '--db', 'x.db', '--config', 'am.toml'],
    /give --config or --db, not both/,
    'ats backups --help',
  ],
  [['restore', '--db', 'x.db'], /restore replaces .*x\.db: pass --yes to confirm/, 'ats restore --help'],
  [['restroe'], /unknown command 'restroe'/, 'ats --help'],
];

describe('bad command-line arguments', () => {
  it('tries every case in the catalog', () => expect(CASES).toHaveLength(FAULTS['bad-cli'].trials));

  it.each(CASES)('ats %j', async (args, message, hint) => {
    dir = tempDir();
    const run = await runCli(args, { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Error: /);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain(`\nTry: ${hint}\n`);
    expect(run.stdout).toBe('');
    expect(listDir(dir)).toEqual([]);
  });
});
