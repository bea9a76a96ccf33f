import { createLogger, type Logger } from './logger.js';
import { ConfigError } from './parseConfig.js';

export interface RunningService {
  /** Stops accepting work, drains, closes connections. */
  stop(): Promise<void>;
}

/**
 * Runs a service's `start`, turning a configuration error into a clear message and exit
 * code 2, and SIGINT/SIGTERM into a graceful stop (a second signal exits at once).
 */
export function runService(name: string, start: (logger: Logger) => Promise<RunningService>): void {
  const logger = createLogger(name);
  let running: RunningService | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    try {
      await running?.stop();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  start(logger)
    .then((r) => {
      running = r;
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(2);
      }
      logger.fatal({ err }, 'failed to start');
      process.exit(1);
    });
}
