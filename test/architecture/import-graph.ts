import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One module of src/ and the src/ modules it imports (relative specifiers only). */
export interface ModuleImports {
  readonly file: string; // relative to src/, e.g. 'backup/rotation.ts'
  readonly imports: readonly string[];
}

/** Reads every .ts file under `srcDir` and resolves its relative imports to files under it. */
export function readImportGraph(srcDir: string): ModuleImports[] {
  const files = listTs(srcDir);
  return files.map((abs) => {
    const info = ts.preProcessFile(fs.readFileSync(abs, 'utf8'), true, true);
    const imports = info.importedFiles
      .map((ref) => ref.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => path.relative(srcDir, path.resolve(path.dirname(abs), spec)).replace(/\.js$/, '.ts'));
    return { file: path.relative(srcDir, abs), imports };
  });
}

function listTs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const abs = path.join(dir, entry.name);
    if (entry.isDirectory()) return listTs(abs);
    return entry.name.endsWith('.ts') ? [abs] : [];
  });
}

/** The part a module belongs to: its first folder under src/. */
export function partOf(file: string): string {
  return file.split(/[\\/]/)[0] ?? file;
}

/**
 * Every violation of the layering rules in `graph`: an import of a part that `allowed` does not
 * list for the importer, an import of another part other than through its `index.ts`, an import
 * of a module that does not exist, and a part that `allowed` does not know.
 */
export function layeringViolations(
  graph: readonly ModuleImports[],
  allowed: Readonly<Record<string, readonly string[]>>,
): string[] {
  const known = new Set(graph.map((m) => m.file));
  const problems: string[] = [];
  for (const { file, imports } of graph) {
    const from = partOf(file);
    if (!(from in allowed)) problems.push(`${file}: part '${from}' is not in the table of allowed imports`);
    for (const target of imports) {
      const to = partOf(target);
      if (!known.has(target)) problems.push(`${file} imports ${target}, which does not exist`);
      if (to === from) continue;
      if (!(allowed[from] ?? []).includes(to))
        problems.push(`${file} imports ${target}: '${from}' may not import '${to}'`);
      else if (target !== `${to}/index.ts`)
        problems.push(`${file} imports ${target}: another part is imported only through ${to}/index.ts`);
    }
  }
  return problems;
}

/** Each import cycle among the modules, as the list of files around it (the first repeated last). */
export function importCycles(graph: readonly ModuleImports[]): string[][] {
  const edges = new Map(graph.map((m) => [m.file, m.imports]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next) && edges.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of edges.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

/**
 * The table of allowed imports as docs/ARCHITECTURE.md states it: the rows of the markdown table
 * whose header is `| part | may import |`, each `may import` cell a comma-separated list of
 * `name` in backticks, or "nothing".
 */
export function allowedFromDoc(markdown: string): Record<string, string[]> {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => /^\|\s*part\s*\|\s*may import\s*\|/.test(l));
  if (start < 0) throw new Error('docs/ARCHITECTURE.md has no "| part | may import |" table');
  const table: Record<string, string[]> = {};
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [part, may] = line
      .split('|')
      .slice(1, 3)
      .map((cell) => cell.trim());
    const name = /`src\/([a-z-]+)\/`/.exec(part ?? '')?.[1];
    if (name === undefined) throw new Error(`docs/ARCHITECTURE.md: cannot read the part in: ${line}`);
    table[name] = [...(may ?? '').matchAll(/`([a-z-]+)`/g)].map((m) => m[1] as string).sort();
  }
  return table;
}
