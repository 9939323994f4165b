// Public surface of the config: parse `am.toml` purely, load it from disk separately.

export type { BackupVerify, Config, Destination } from './config.js';
export { DEFAULTS } from './config.js';
export type { ConfigEnv } from './config-source.js';
export type { DestinationConfig } from './destinations.js';
export type { ConfigErrorOptions } from './errors.js';
export { ConfigError } from './errors.js';
export type { LoadConfigOptions } from './load-config.js';
export { CONFIG_FILE_NAME, loadConfig } from './load-config.js';
export type { ParseConfigOptions } from './parse-config.js';
export { parseConfig } from './parse-config.js';
