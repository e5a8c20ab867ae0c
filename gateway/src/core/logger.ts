/**
 * Structured logs with pino: one root logger per process, a child per part and per
 * device (`log.child({ device: 'pump-1' })`). Secrets are redacted by path.
 */
import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

export type Logger = PinoLogger;

/** Paths that may carry secrets in any object we log. */
export const REDACT_PATHS = [
  'password',
  'secret',
  'token',
  'enrolmentToken',
  'authorization',
  '*.password',
  '*.secret',
  '*.token',
  '*.enrolmentToken',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
];

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  readonly name?: string;
  /** Write to this destination instead of stdout (tests pass a stream to inspect). */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? 'info', name: options.name ?? 'steward', redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}
