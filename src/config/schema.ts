import { destinations } from './destinations.js';
import { bearerToken, nonEmptyString, numberFrom, oneOf, type Rule, wholeNumber } from './rules.js';

// Node timers fire at once when asked to wait more than 2^31-1 ms: keep intervals below that.
const MAX_TIMER_SECONDS = 2_147_483;
// The backup engine's timeoutMs stops at 24 h.
const MAX_BACKUP_TIMEOUT_SECONDS = 86_400;
// Each tick runs the due jobs and a checkpoint: below this an idle service would burn a core.
const MIN_TICKER_SECONDS = 0.01;
// Past this a body takes longer to parse than a request may hold the event loop.
const MAX_BODY_BYTES = 16 * 1_048_576;
// Twice the store's journal_size_limit (64 MiB): a restart trims the WAL file to that, so a cap
// below it could leave the file over the cap with nothing left to checkpoint.
const MIN_WAL_CAP_BYTES = 134_217_728;

/** Every section and key `am.toml` may hold, with the rule its value must follow. */
export const SCHEMA = {
  Database: {
    path: nonEmptyString('path'),
    backup_interval_seconds: wholeNumber(0, undefined, MAX_TIMER_SECONDS),
    backup_keep: wholeNumber(1, 1000),
    backup_dir: nonEmptyString('path'),
    backup_verify: oneOf('quick', 'full', 'off'),
    backup_engine: oneOf('auto', 'block', 'backup-api'),
    backup_timeout_seconds: wholeNumber(1, undefined, MAX_BACKUP_TIMEOUT_SECONDS),
    destination: destinations(),
    max_wal_bytes: wholeNumber(MIN_WAL_CAP_BYTES),
  },
  Pulse: {
    ticker_interval_seconds: numberFrom(MIN_TICKER_SECONDS, MAX_TIMER_SECONDS),
  },
  Server: {
    host: nonEmptyString('string'),
    port: wholeNumber(0, 65_535),
    token: bearerToken,
    max_body_bytes: wholeNumber(1024, undefined, MAX_BODY_BYTES),
    max_connections: wholeNumber(1, 65_535),
    request_timeout_seconds: wholeNumber(1, 3600),
    shutdown_grace_seconds: wholeNumber(0, 3600),
  },
  ATS: {
    max_per_actor_context: wholeNumber(1),
    max_batch: wholeNumber(1, 100_000),
  },
} as const;

/** The sections of {@link SCHEMA}. */
export type SectionName = keyof typeof SCHEMA;

/** The values found in a file, checked; a key left out of the file is absent. */
export type CheckedValues = {
  -readonly [S in SectionName]: {
    -readonly [K in keyof (typeof SCHEMA)[S]]?: (typeof SCHEMA)[S][K] extends Rule<infer T> ? T : never;
  };
};

/** The section names, in the order they are documented. */
export const SECTION_NAMES = Object.keys(SCHEMA) as SectionName[];

/** The keys of one section. */
export function keysOf(section: SectionName): string[] {
  return Object.keys(SCHEMA[section]);
}

/** The rule of `[section] key`, or undefined for an unknown key. */
export function ruleOf(section: SectionName, key: string): Rule<unknown> | undefined {
  const rules: Readonly<Record<string, Rule<unknown>>> = SCHEMA[section];
  return Object.hasOwn(rules, key) ? rules[key] : undefined;
}

/** The section a key belongs to, for "did you put it in the wrong section?". */
export function sectionOfKey(key: string): SectionName | undefined {
  return SECTION_NAMES.find((section) => ruleOf(section, key) !== undefined);
}
