import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/**
 * Structured JSON logs. Secrets never belong in a log line: hook URLs carry their token, so paths
 * and headers that may hold one are redacted wherever they are logged.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const settings = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: undefined,
    redact: {
      paths: ['token', 'url', 'path', '*.token', '*.url', 'req.headers.authorization', 'headers.authorization', 'authorization', 'adminToken'],
      censor: '[redacted]',
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
