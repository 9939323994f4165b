import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  allowedFromDoc,
  importCycles,
  layeringViolations,
  type ModuleImports,
  readImportGraph,
} from './architecture/import-graph.js';

/**
 * The layering of src/, in one table: which parts each part may import (always through the
 * other part's index.ts). docs/ARCHITECTURE.md states the same table; a test keeps them equal.
 */
const ALLOWED: Record<string, string[]> = {
  backup: ['errors'],
  cli: ['backup', 'config', 'errors', 'pulse', 'server', 'store'],
  config: ['errors'],
  errors: [],
  pulse: ['backup', 'errors'],
  server: ['errors', 'store'],
  store: ['errors'],
};

const root = path.resolve(import.meta.dirname, '..');
const graph = readImportGraph(path.join(root, 'src'));

describe('the layering of src/', () => {
  it('reads a real graph (a guard against a reader that finds nothing)', () => {
    expect(graph.length).toBeGreaterThan(50);
    expect(graph.flatMap((m) => m.imports).length).toBeGreaterThan(100);
  });

  it('every part imports only the parts the table allows, and only through their index.ts', () => {
    expect(layeringViolations(graph, ALLOWED)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('docs/ARCHITECTURE.md states the same table', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/ARCHITECTURE.md'), 'utf8');
    const sorted = Object.fromEntries(Object.entries(ALLOWED).map(([part, may]) => [part, [...may].sort()]));
    expect(allowedFromDoc(doc)).toEqual(sorted);
  });
});

// Negative controls: the checks above find each kind of violation in a graph that has one.
describe('the layering checks catch', () => {
  const ok: ModuleImports[] = [
    { file: 'backup/index.ts', imports: ['backup/run.ts'] },
    { file: 'backup/run.ts', imports: [] },
    { file: 'pulse/index.ts', imports: ['backup/index.ts'] },
  ];
  const table = { backup: [], pulse: ['backup'] };

  it('nothing in a graph that keeps the rules', () => {
    expect(layeringViolations(ok, table)).toEqual([]);
    expect(importCycles(ok)).toEqual([]);
  });

  it('an import of a part that is not allowed', () => {
    const bad = [...ok, { file: 'backup/x.ts', imports: ['pulse/index.ts'] }];
    expect(layeringViolations(bad, table)).toEqual([
      "backup/x.ts imports pulse/index.ts: 'backup' may not import 'pulse'",
    ]);
  });

  it("an import past another part's index.ts", () => {
    const bad = [...ok, { file: 'pulse/y.ts', imports: ['backup/run.ts'] }];
    expect(layeringViolations(bad, table)).toEqual([
      'pulse/y.ts imports backup/run.ts: another part is imported only through backup/index.ts',
    ]);
  });

  it('a part missing from the table', () => {
    expect(layeringViolations([{ file: 'new/a.ts', imports: [] }], table)).toEqual([
      "new/a.ts: part 'new' is not in the table of allowed imports",
    ]);
  });

  it('a cycle, inside a part or across parts', () => {
    const bad: ModuleImports[] = [
      { file: 'backup/a.ts', imports: ['backup/b.ts'] },
      { file: 'backup/b.ts', imports: ['backup/c.ts'] },
      { file: 'backup/c.ts', imports: ['backup/a.ts'] },
    ];
    expect(importCycles(bad)).toEqual([['backup/a.ts', 'backup/b.ts', 'backup/c.ts', 'backup/a.ts']]);
  });
});
