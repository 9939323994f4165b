/** The slice of a pino logger the jobs use, so pulse does not depend on pino. */
export interface Logger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}
