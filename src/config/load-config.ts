import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import { buildConfig } from './build-config.js';
import type { Config } from './config.js';
import type { ConfigEnv } from './config-source.js';
import { ConfigError } from './errors.js';
import { configFromText } from './parse-config.js';

/** The file looked for in the working folder when no path is given. */
export const CONFIG_FILE_NAME = 'am.toml';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Config file to read; it must exist and be a file. Relative to `cwd`. */
  readonly path?: string | undefined;
  /** Folder to look for `am.toml` in and to resolve against. Default: process.cwd(). */
  readonly cwd?: string | undefined;
  /** Where ATS_TOKEN is read from. Default: process.env. */
  readonly env?: ConfigEnv | undefined;
}

/**
 * Reads and validates the config: `opts.path` if given, else `<cwd>/am.toml` if there is one, else
 * the defaults (with paths relative to `cwd`). Reads only; creates nothing on disk.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const env = opts.env ?? process.env;
  if (opts.path !== undefined && (typeof opts.path !== 'string' || opts.path.trim() === '')) {
    throw new ConfigError(`config path must be a non-empty string (got ${JSON.stringify(opts.path)})`);
  }
  const explicit = opts.path !== undefined;
  const shownAs = opts.path ?? CONFIG_FILE_NAME;
  const absolute = path.resolve(cwd, shownAs);
  const text = readConfigFile(absolute, shownAs, explicit);
  if (text === undefined) {
    return buildConfig(
      { Database: {}, Pulse: {}, Server: {}, ATS: {} },
      { shownAs: undefined, absolute: undefined, text: '', baseDir: cwd, env },
    );
  }
  return configFromText({ shownAs, absolute, text, baseDir: path.dirname(absolute), env });
}

/** The file's text; undefined when it is the implicit `am.toml` and absent. */
function readConfigFile(absolute: string, shownAs: string, explicit: boolean): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    const reason =
      code === 'ENOENT'
        ? `config file ${absolute} does not exist`
        : `cannot read config file ${absolute}: ${String(err)}`;
    throw new ConfigError(reason, { file: shownAs, cause: err });
  }
  if (!stat.isFile()) {
    throw new ConfigError(
      `config file ${absolute} is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}, not a file to read`,
      { file: shownAs },
    );
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(absolute);
  } catch (err) {
    throw new ConfigError(`cannot read config file ${absolute}: ${String(err)}`, {
      file: shownAs,
      cause: err,
    });
  }
  // Decoding would replace a bad byte with U+FFFD silently, and a path or token would change.
  if (!isUtf8(bytes)) {
    const at = firstBadUtf8Byte(bytes);
    const line = bytes.subarray(0, at).toString('latin1').split('\n').length;
    throw new ConfigError(`is not valid UTF-8 (bad byte 0x${bytes[at]?.toString(16)} at offset ${at})`, {
      file: shownAs,
      line,
    });
  }
  // A leading byte-order mark is valid UTF-8 but not valid TOML.
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

/** Offset of the first byte that breaks UTF-8 in `buf` (known not to be valid). */
function firstBadUtf8Byte(buf: Buffer): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i] as number;
    const tail =
      b < 0x80
        ? 0
        : b >= 0xc2 && b <= 0xdf
          ? 1
          : b >= 0xe0 && b <= 0xef
            ? 2
            : b >= 0xf0 && b <= 0xf4
              ? 3
              : -1;
    if (tail < 0 || (tail > 0 && !isUtf8(buf.subarray(i, i + tail + 1)))) return i;
    i += tail + 1;
  }
  return buf.length;
}
