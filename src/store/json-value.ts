/**
 * Why `value` is not plain JSON, or undefined when it is: only plain objects, arrays, strings,
 * finite numbers, booleans and null, no cycles, at most `maxDepth` levels of objects and arrays.
 * `where` names the value in the message.
 */
export function jsonProblem(
  value: unknown,
  where: string,
  maxDepth: number,
  depth = 0,
  open = new Set<object>(),
): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${where} must be a finite number (got ${value})`;
  if (typeof value !== 'object')
    return `${where} must be JSON (got ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`})`;
  if (depth >= maxDepth)
    return `${where} is nested more than ${maxDepth} levels deep (maxAttributesDepth ${maxDepth})`;
  if (open.has(value)) return `${where} refers to itself (a cycle)`;
  open.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const problem = jsonProblem(value[i], `${where}[${i}]`, maxDepth, depth + 1, open);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    if (!isPlainObject(value))
      return `${where} must be JSON (got a ${value.constructor?.name ?? 'non-plain object'})`;
    for (const [key, item] of Object.entries(value)) {
      const problem = jsonProblem(item, `${where}.${key}`, maxDepth, depth + 1, open);
      if (problem !== undefined) return problem;
    }
    return undefined;
  } finally {
    open.delete(value);
  }
}

/** An object literal (or Object.create(null)): no class instance, array, Date or Map. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
