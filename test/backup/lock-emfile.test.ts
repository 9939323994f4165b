import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, removeDir, tempDir } from '../helpers.js';

// A process out of file descriptors (ulimit -n) that takes the backup lock: the error says EMFILE,
// not SQLite's SQLITE_CANTOPEN. Run in a child with a small descriptor limit.
let dir: string;
afterEach(() => removeDir(dir));

/** Fills the descriptor table (or not), tries the lock, prints what happened. */
const script = (fill: boolean) => `
import fs from 'node:fs';
import { tryLock } from ${JSON.stringify(path.join(ROOT, 'dist/backup/index.js'))};
tryLock(process.argv[1] + '.warm')?.release(); // loads SQLite's native module, as a running service has
const held = [];
if (${fill}) { try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch (err) { if (err.code !== 'EMFILE') throw err; } }
try {
  const lock = tryLock(process.argv[1]);
  console.log(JSON.stringify({ ok: lock !== undefined }));
} catch (err) {
  console.log(JSON.stringify({ code: err.code, message: err.message }));
}
`;

function run(fill: boolean): { ok?: boolean; code?: string; message?: string } {
  const out = execFileSync(
    'bash',
    [
      '-c',
      'ulimit -n 64 && exec "$0" --input-type=module -e "$1" "$2"',
      process.execPath,
      script(fill),
      path.join(dir, 'x.bak.lock'),
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1) as string);
}

describe('the backup lock out of file descriptors', () => {
  it('reports EMFILE', () => {
    dir = tempDir();
    const result = run(true);
    expect(result.code).toBe('ATS_BACKUP_DEST');
    expect(result.message).toMatch(
      /^lock .*x\.bak\.lock: EMFILE: too many open files \(the process is at its limit/,
    );
  });

  it('and takes the lock when descriptors are free (the control)', () => {
    dir = tempDir();
    expect(run(false)).toEqual({ ok: true });
  });
});
