const HEADER = /^\s*\[\[?\s*([^[\]]+?)\s*\]\]?\s*(?:#.*)?$/;
const KEY = /^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-. \t])+?)\s*=/;

/**
 * The 1-based line where `[section] key` is set, or where `section` starts when `key` is undefined.
 * smol-toml reports positions only for syntax errors, so this scans the text: it follows table
 * headers and dotted keys, and gives up (undefined) on anything it cannot place, e.g. a key inside
 * a multi-line string or an inline table.
 */
export function findLine(text: string, section: string, key?: string): number | undefined {
  const wanted = key === undefined ? [section] : [section, key];
  const lines = text.split(/\r?\n/);
  let table: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const header = HEADER.exec(line);
    if (header) {
      table = splitPath(header[1] ?? '');
      if (startsWith(table, wanted)) return i + 1;
      continue;
    }
    const assignment = KEY.exec(line);
    if (assignment && startsWith([...table, ...splitPath(assignment[1] ?? '')], wanted)) return i + 1;
  }
  return undefined;
}

function splitPath(dotted: string): string[] {
  return (dotted.match(/"[^"]*"|'[^']*'|[^.]+/g) ?? []).map((part) =>
    part.trim().replace(/^(["'])(.*)\1$/, '$2'),
  );
}

function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => path[i] === part);
}
