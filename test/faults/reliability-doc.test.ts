import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { FAULTS } from './catalog.js';

describe('docs/RELIABILITY.md', () => {
  it('lists exactly the faults of the suite, with their trial counts', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/RELIABILITY.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| ([a-z-]+) \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(FAULTS).map(([id, f]) => [id, f.trials]));
  });
});
