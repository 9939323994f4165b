import { AtsError, type AtsErrorCode } from '../errors/index.js';

/** Codes the HTTP layer gives by itself (meanings in ERROR_CODES). */
export type HttpErrorCode = Extract<AtsErrorCode, `ATS_HTTP_${string}`>;

/** A refusal by the HTTP layer (auth, routing, parsing, limits); its status comes from its code. */
export class HttpError extends AtsError {
  override readonly name = 'HttpError';
  declare readonly code: HttpErrorCode;

  constructor(code: HttpErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
