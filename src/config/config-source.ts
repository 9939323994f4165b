import { ConfigError } from './errors.js';
import { findLine } from './locate.js';

/** Environment variables the config reads. */
export interface ConfigEnv {
  readonly ATS_TOKEN?: string | undefined;
}

/** The text being validated and where it came from. */
export interface ConfigSource {
  /** The file name as the user gave it, for messages; undefined for defaults only. */
  readonly shownAs: string | undefined;
  /** Its absolute path; undefined for defaults only. */
  readonly absolute: string | undefined;
  readonly text: string;
  /** Folder relative paths are resolved against. */
  readonly baseDir: string;
  readonly env: ConfigEnv;
}

/** A ConfigError about `[section] key` (or the whole section), placed on its line when it can be found. */
export function problemAt(source: ConfigSource, reason: string, section: string, key?: string): ConfigError {
  return new ConfigError(reason, {
    file: source.shownAs,
    key: key === undefined ? section : `${section}.${key}`,
    line: findLine(source.text, section, key),
  });
}
