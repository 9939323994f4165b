import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupError } from '../../dist/backup/index.js';
import { ConfigError } from '../../dist/config/index.js';
import { AtsError, ERROR_CODES } from '../../dist/errors/index.js';
import { StoreError } from '../../dist/store/index.js';
import { ROOT } from '../helpers.js';

// One error vocabulary: every code in one table, namespaced by part, never an errno name, listed
// once in README, and every code the source gives is in the table.
const codes = Object.keys(ERROR_CODES);
/** Environment variables share the ATS_ prefix; they are not error codes. */
const ENVIRONMENT = new Set(['ATS_TOKEN', 'ATS_FAULT_POINT', 'ATS_FAULT_MARKER']);

/** Every `ATS_*_*` string literal in the .ts files under `dir`. */
function literalsIn(dir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/['"`](ATS_[A-Z_]+)['"`]/g)) {
      const code = m[1] as string;
      found.set(code, [...(found.get(code) ?? []), path.relative(ROOT, file)]);
    }
  }
  return found;
}

/** The rows of README's error code table: code, exit, HTTP status, meaning. */
function readmeRows(markdown: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*code\s*\|\s*exit\s*\|\s*HTTP\s*\|\s*means\s*\|/.test(l));
  if (start < 0) throw new Error('README.md has no "| code | exit | HTTP | means |" table');
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim().replace(/^`|`$/g, '')),
    );
  }
  return rows;
}

describe('the error vocabulary', () => {
  it('has codes (a guard against a table that reads as empty)', () => {
    expect(codes.length).toBeGreaterThan(20);
  });

  it('every code is ATS_<PART>_<WHAT> for a real part of src/', () => {
    const parts = new Set(fs.readdirSync(path.join(ROOT, 'src')).map((p) => p.toUpperCase()));
    for (const code of codes) {
      const [, part] = /^ATS_([A-Z]+)_[A-Z][A-Z_]*$/.exec(code) ?? [];
      expect(part, code).toBeDefined();
      expect(
        parts.has(part as string) || part === 'HTTP',
        `${code}: no part src/${part?.toLowerCase()}`,
      ).toBe(true);
    }
  });

  it('no code is an errno name', () => {
    const errno = new Set(Object.keys(os.constants.errno));
    expect(errno.has('EBUSY')).toBe(true); // the guard reads the real list
    expect(codes.filter((c) => errno.has(c))).toEqual([]);
  });

  it('every HTTP status is a 4xx or 5xx, every exit code 1 or 2', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect([1, 2], code).toContain(info.exit);
      if ('status' in info) expect(info.status >= 400 && info.status < 600, code).toBe(true);
    }
  });

  it('README lists every code once, with the same exit code, status and meaning', () => {
    const rows = readmeRows(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    const expected = Object.entries(ERROR_CODES).map(([code, info]) => [
      code,
      String(info.exit),
      'status' in info ? String(info.status) : '',
      info.means,
    ]);
    expect(rows).toEqual(expected);
  });

  it('every ATS_ code the source gives is in the table', () => {
    const unknown = [...literalsIn(path.join(ROOT, 'src'))].filter(
      ([code]) => !(code in ERROR_CODES) && !ENVIRONMENT.has(code),
    );
    expect(unknown).toEqual([]);
    expect(codes.filter((c) => ENVIRONMENT.has(c))).toEqual([]);
  });

  it('and the checks above catch a code missing from the table (negative control)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ats-vocab-'));
    try {
      fs.writeFileSync(path.join(dir, 'x.ts'), "throw new AtsError('ATS_STORE_NOPE', 'x');");
      const unknown = [...literalsIn(dir)].filter(([code]) => !(code in ERROR_CODES));
      expect(unknown.map(([code]) => code)).toEqual(['ATS_STORE_NOPE']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("every part's errors extend AtsError", () => {
  it.each([
    ['BackupError', new BackupError('ATS_BACKUP_COPY', 'copy', 'a.db', 'boom'), 'ATS_BACKUP_COPY', 1, 500],
    [
      'BackupError (usage)',
      new BackupError('ATS_BACKUP_INVALID', 'backup', undefined, 'x'),
      'ATS_BACKUP_INVALID',
      2,
      500,
    ],
    ['StoreError', new StoreError('ATS_STORE_INVALID', 'bad'), 'ATS_STORE_INVALID', 2, 400],
    ['StoreError (busy)', new StoreError('ATS_STORE_BUSY', 'busy'), 'ATS_STORE_BUSY', 1, 503],
    ['StoreError (full)', new StoreError('ATS_STORE_FULL', 'full'), 'ATS_STORE_FULL', 1, 507],
    ['ConfigError', new ConfigError('bad key', { file: 'am.toml', line: 3 }), 'ATS_CONFIG_INVALID', 2, 500],
  ])('%s', (_name, err, code, exit, status) => {
    expect(err).toBeInstanceOf(AtsError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(exit);
    expect(err.status).toBe(status);
  });

  it('keeps the context in the message and the cause', () => {
    const cause = new Error('ENOSPC');
    const err = new BackupError('ATS_BACKUP_ROTATE', 'rename', 'a.db.bak1', 'ENOSPC', { cause });
    expect(err.message).toBe('rename a.db.bak1: ENOSPC');
    expect(err.cause).toBe(cause);
    expect(new ConfigError('x', { file: 'am.toml', line: 3 }).message).toBe('am.toml:3: x');
  });
});
