import { AtsError } from '../errors/index.js';

/** A mistake in how the command was called: exit code 2, with a hint of what to type instead. */
export class UsageError extends AtsError {
  override readonly name = 'UsageError';
  declare readonly code: 'ATS_CLI_USAGE';
  declare readonly hint: string;

  constructor(message: string, hint: string) {
    super('ATS_CLI_USAGE', message, { hint });
  }
}
