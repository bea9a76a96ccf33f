import { setTimeout as sleep } from 'node:timers/promises';
import { viewKeys } from '@lightdom/readmodel';
import { Redis } from 'ioredis';
import type { FaultContext } from '../lib/context.js';
import { inject, observe, seconds } from '../lib/log.js';

/**
 * Restart Redis without persistence: every hot view is gone, as after a cache node is
 * replaced. The projector must reconnect by itself and write the views again.
 */
export async function redisRestart(ctx: FaultContext): Promise<void> {
  inject('restart Redis (SIGTERM; no persistence, so every key is lost)');
  await ctx.stack.redis.stop();
  await sleep(ctx.quick ? 500 : 1500);
  await ctx.stack.redis.start();
  const upAt = Date.now();
  inject('Redis listens again, empty');
  const redis = new Redis(ctx.stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const positionKey = viewKeys({ keyPrefix: ctx.stack.names.redisPrefix, channelPrefix: '' }).position;
  try {
    await redis.connect();
    while (Date.now() - upAt < 60_000) {
      const position = await redis.get(positionKey);
      if (position !== null) {
        ctx.measurements.hotViewsBackAfter = Number(position);
        observe(
          `projector writes hot views again ${seconds(Date.now() - upAt)} after Redis returned (from position ${position})`,
        );
        return;
      }
      await sleep(100);
    }
    observe('projector wrote no hot view within 60 s of Redis returning');
  } finally {
    redis.disconnect();
  }
}
