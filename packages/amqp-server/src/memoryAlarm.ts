import type { Logger } from 'pino';

export interface MemoryAlarm {
  readonly on: boolean;
  stop(): void;
}

/**
 * Compares the process's resident memory with a watermark every `intervalMs` and calls
 * `changed` when it crosses it either way (RabbitMQ's memory alarm, without hysteresis).
 */
export function watchMemory(
  options: { watermarkBytes: number; intervalMs: number; rss: () => number },
  logger: Logger,
  changed: (on: boolean) => void,
): MemoryAlarm {
  let on = false;
  const timer = setInterval(() => {
    const rss = options.rss();
    const next = rss > options.watermarkBytes;
    if (next === on) return;
    on = next;
    const fields = { rssMb: Math.round(rss / 1048576), watermarkMb: Math.round(options.watermarkBytes / 1048576) };
    if (on) logger.warn(fields, 'AMQP memory alarm: publishing connections are blocked');
    else logger.info(fields, 'AMQP memory alarm cleared: publishing connections resume');
    changed(on);
  }, options.intervalMs);
  timer.unref();
  return {
    get on() {
      return on;
    },
    stop: () => clearInterval(timer),
  };
}
