import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { buildConfig } from './build-config.js';
import type { Config } from './config.js';
import { type ConfigEnv, type ConfigSource, problemAt } from './config-source.js';
import { checkDestinations } from './destinations.js';
import { ConfigError } from './errors.js';
import { show } from './rules.js';
import {
  type CheckedValues,
  keysOf,
  ruleOf,
  SECTION_NAMES,
  type SectionName,
  sectionOfKey,
} from './schema.js';
import { suggest } from './suggest.js';

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Where ATS_TOKEN is read from. Default: process.env. */
  readonly env?: ConfigEnv;
}

/**
 * Parses and validates the text of an `am.toml`; `file` names it in messages and anchors its
 * relative paths. Returns a frozen {@link Config} or throws a {@link ConfigError}. Reads no file.
 */
export function parseConfig(text: string, file: string, options: ParseConfigOptions = {}): Config {
  if (typeof file !== 'string' || file === '')
    throw new ConfigError('parseConfig: file must be a non-empty string');
  if (typeof text !== 'string') throw new ConfigError('parseConfig: text must be a string', { file });
  const absolute = path.resolve(file);
  return configFromText({
    shownAs: file,
    absolute,
    text,
    baseDir: path.dirname(absolute),
    env: options.env ?? process.env,
  });
}

/** Validates `source.text` and builds the Config; shared by parseConfig and loadConfig. */
export function configFromText(source: ConfigSource): Config {
  return buildConfig(checkValues(parseToml(source), source), source);
}

function parseToml(source: ConfigSource): Record<string, unknown> {
  try {
    // Integers as bigint: the only way to tell `5` from `5.0`, and a float is no whole number.
    return parse(source.text, { integersAsBigInt: true, maxDepth: 16 });
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '');
      throw new ConfigError(`TOML syntax error at column ${err.column}: ${reason}`, {
        file: source.shownAs,
        line: err.line,
        column: err.column,
        cause: err,
      });
    }
    throw new ConfigError(`cannot parse TOML: ${err instanceof Error ? err.message : String(err)}`, {
      file: source.shownAs,
      cause: err,
    });
  }
}

/** Refuses unknown sections and keys, checks every value; returns them typed. */
function checkValues(table: Record<string, unknown>, source: ConfigSource): CheckedValues {
  const checked: CheckedValues = { Database: {}, Pulse: {}, Server: {}, ATS: {} };
  for (const [name, content] of Object.entries(table)) {
    const section = SECTION_NAMES.find((s) => s === name);
    if (section === undefined) throw unknownSection(name, content, source);
    if (!isTable(content))
      throw problemAt(source, `[${section}] must be a table (got ${show(content)})`, section);
    for (const [key, value] of Object.entries(content)) {
      if (section === 'Database' && key === 'destination') {
        checked.Database.destination = checkDestinations(value, source);
        continue;
      }
      const rule = ruleOf(section, key);
      if (rule === undefined) throw unknownKey(section, key, source);
      const result = rule(value);
      if (!result.ok) throw problemAt(source, `[${section}] ${key} ${result.problem}`, section, key);
      (checked[section] as Record<string, unknown>)[key] = result.value;
    }
  }
  return checked;
}

function unknownSection(name: string, content: unknown, source: ConfigSource): ConfigError {
  const owner = isTable(content) ? undefined : sectionOfKey(name);
  if (owner !== undefined) {
    return problemAt(source, `key ${name} is outside any section (it belongs in [${owner}])`, name);
  }
  const hint = suggest(name, SECTION_NAMES);
  const help =
    hint === undefined
      ? `known sections: ${SECTION_NAMES.map((s) => `[${s}]`).join(', ')}`
      : `did you mean [${hint}]?`;
  return problemAt(source, `unknown section [${name}] (${help})`, name);
}

function unknownKey(section: SectionName, key: string, source: ConfigSource): ConfigError {
  const known = keysOf(section);
  const hint = suggest(key, known);
  const owner = sectionOfKey(key);
  const help =
    owner !== undefined
      ? `${key} belongs in [${owner}]`
      : hint !== undefined
        ? `did you mean ${hint}?`
        : `known keys: ${known.join(', ')}`;
  return problemAt(source, `unknown key [${section}] ${key} (${help})`, section, key);
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
