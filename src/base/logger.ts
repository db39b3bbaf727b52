/**
 * The process logger: structured JSON lines (pino). Pull secrets and credentials are never passed
 * to the logger; redaction is a second line of defence for fields that might carry them by mistake.
 */
import { pino } from 'pino';

/** The logger type every long-running module takes. */
export type Logger = pino.Logger;

/** Paths censored in every log line, in case a credential-bearing object reaches a log call. */
export const REDACT_PATHS: readonly string[] = [
  'pullSecrets',
  '*.pullSecrets',
  'auth',
  '*.auth',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'dockerconfigjson',
  '*.dockerconfigjson',
];

/** Bound on strings copied from the request into log lines (names, labels); the object is not validated yet. */
export const MAX_LOG_FIELD_CHARS = 253;

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** pino level; default `info`. */
  readonly level?: string;
  /** Where lines go; default stdout. Tests pass an in-memory stream. */
  readonly destination?: pino.DestinationStream;
}

/** Creates the process logger: JSON lines, ISO time, secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const opts: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { name: 'camel-oci' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return options.destination === undefined ? pino(opts) : pino(opts, options.destination);
}
