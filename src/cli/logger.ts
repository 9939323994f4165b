import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/** The service log: JSON lines, or readable lines when stdout is a terminal. */
export function createLogger(): Logger {
  const options = { base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  return process.stdout.isTTY
    ? pino(options, pretty({ colorize: true, sync: true }))
    : pino(options, pino.destination({ sync: true }));
}
