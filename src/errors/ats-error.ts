import { type AtsErrorCode, ERROR_CODES, type ErrorCodeInfo } from './codes.js';

/** What every ats error may carry beyond its code and message. */
export interface AtsErrorOptions {
  readonly cause?: unknown;
  /** What to type or do instead, printed by the CLI as `Try: ...`. */
  readonly hint?: string | undefined;
}

/**
 * The base of every error ats throws: a stable namespaced `code` (see ERROR_CODES), the exit code
 * the CLI gives it and the HTTP status it answers with, so one branch reports any of them.
 */
export class AtsError extends Error {
  override readonly name: string = 'AtsError';
  readonly code: AtsErrorCode;
  readonly hint: string | undefined;

  constructor(code: AtsErrorCode, message: string, options: AtsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** 1 the operation failed, 2 a usage or configuration mistake. */
  get exitCode(): 1 | 2 {
    return info(this.code).exit;
  }

  /** The HTTP status this error answers with; 500 for codes no route gives. */
  get status(): number {
    return info(this.code).status ?? 500;
  }
}

function info(code: AtsErrorCode): ErrorCodeInfo {
  return ERROR_CODES[code];
}

/** The message of any thrown value for wrapping, with its errno or SQLite code when it has one. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
