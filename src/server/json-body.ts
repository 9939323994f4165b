import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';

/**
 * The JSON body parser: strict UTF-8 (a bad byte is a 400 naming its offset, never a silent
 * U+FFFD), JSON.parse, then a refusal of `__proto__` and `constructor.prototype` keys, which
 * could poison an object's prototype once merged. Each refusal says which rule and where.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** Parses a request body as JSON, or throws an HttpError ATS_HTTP_BAD_JSON saying why not. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw bad('body is empty: send a JSON object or array');
  if (!isUtf8(body)) throw bad(`body is not valid UTF-8 (bad byte at offset ${firstBadUtf8Byte(body)})`);
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw bad(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (text.includes('__proto__') || text.includes('constructor')) {
    const where = poisonedKey(value);
    if (where !== undefined)
      throw bad(
        `body has the key ${where.key} at ${where.path}: ats refuses it, as it could change the prototype of objects built from the body`,
      );
  }
  return value;
}

function bad(message: string): HttpError {
  return new HttpError('ATS_HTTP_BAD_JSON', message);
}

/** The first `__proto__` key, or `constructor` holding `prototype`, found walking `value` (no recursion). */
function poisonedKey(value: unknown): { key: string; path: string } | undefined {
  const stack: [unknown, string][] = [[value, 'body']];
  while (stack.length > 0) {
    const [item, path] = stack.pop() as [unknown, string];
    if (typeof item !== 'object' || item === null) continue;
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${path}/${i}`]);
      continue;
    }
    if (Object.hasOwn(item, '__proto__')) return { key: '"__proto__"', path };
    const ctor = (item as Record<string, unknown>).constructor;
    if (
      Object.hasOwn(item, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      'prototype' in ctor
    )
      return { key: '"constructor" with "prototype"', path };
    for (const [key, child] of Object.entries(item)) stack.push([child, `${path}/${key}`]);
  }
  return undefined;
}

/** Offset of the first byte that breaks UTF-8 in `buf` (which is known not to be valid). */
function firstBadUtf8Byte(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i] as number;
    const need =
      b < 0x80
        ? 0
        : b >= 0xc2 && b <= 0xdf
          ? 1
          : b >= 0xe0 && b <= 0xef
            ? 2
            : b >= 0xf0 && b <= 0xf4
              ? 3
              : -1;
    if (need < 0) return i;
    if (need > 0 && !isUtf8(buf.subarray(i, i + need + 1))) return i;
    i += need + 1;
  }
  return i;
}
