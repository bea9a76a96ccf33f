import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/** A structured logger with the service name on every line. */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  });
}
