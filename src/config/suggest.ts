/**
 * The name in `known` that `name` was most likely meant to be: same letters ignoring case, `_`
 * and `-` (catches `Backup_Keep`, `backupKeep`, `backup-keep`), else a close misspelling.
 */
export function suggest(name: string, known: readonly string[]): string | undefined {
  const wanted = normalize(name);
  const exact = known.find((k) => normalize(k) === wanted);
  if (exact !== undefined) return exact;
  // Allow one edit per four letters, at least one: short names need near-exact spelling.
  const budget = Math.max(1, Math.floor(wanted.length / 4));
  let best: string | undefined;
  let bestDistance = budget + 1;
  for (const candidate of known) {
    const d = distance(wanted, normalize(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/** Levenshtein distance, with a transposition counted as one edit. */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push(Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  }
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, at(i - 2, j - 2) + 1);
      row[j] = d;
    }
  }
  return at(a.length, b.length);
}
