// Public surface of the error vocabulary: a leaf part every other part may import.

export type { AtsErrorOptions } from './ats-error.js';
export { AtsError, reasonOf } from './ats-error.js';
export type { AtsErrorCode, ErrorCodeInfo } from './codes.js';
export { ERROR_CODES } from './codes.js';
