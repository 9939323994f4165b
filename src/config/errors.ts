import { AtsError } from '../errors/index.js';

/** Where in a config file a problem is, as far as it is known. */
export interface ConfigErrorOptions {
  /** The config file as given (undefined when checking defaults only). */
  readonly file?: string | undefined;
  /** `Section.key` (or `Section`) the problem is about. */
  readonly key?: string | undefined;
  readonly line?: number | undefined;
  readonly column?: number | undefined;
  readonly cause?: unknown;
}

/** A config file that cannot be read or does not validate. The message starts `file:line:` when known. */
export class ConfigError extends AtsError {
  override readonly name = 'ConfigError';
  declare readonly code: 'ATS_CONFIG_INVALID';
  readonly file: string | undefined;
  readonly key: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** What is wrong, without the file and line. */
  readonly reason: string;

  constructor(reason: string, options: ConfigErrorOptions = {}) {
    const where =
      options.file === undefined
        ? ''
        : options.line === undefined
          ? `${options.file}: `
          : `${options.file}:${options.line}: `;
    super('ATS_CONFIG_INVALID', `${where}${reason}`, { cause: options.cause });
    this.file = options.file;
    this.key = options.key;
    this.line = options.line;
    this.column = options.column;
    this.reason = reason;
  }
}
