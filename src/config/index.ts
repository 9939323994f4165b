// Public surface of the config: parse `am.toml` purely, load it from disk separately.
export { parseConfig } from './parse-config.js';
export type { ParseConfigOptions } from './parse-config.js';
export { loadConfig, CONFIG_FILE_NAME } from './load-config.js';
export type { LoadConfigOptions } from './load-config.js';
export { DEFAULTS } from './config.js';
export type { Config, BackupVerify } from './config.js';
export type { ConfigEnv } from './config-source.js';
export { ConfigError } from './errors.js';
export type { ConfigErrorOptions } from './errors.js';
