import { Redis } from 'ioredis';
import { testServers, uniqueId } from './servers.js';

export interface RedisTestEnv {
  redis: Redis;
  /** Every key and channel this test touches starts with it. */
  prefix: string;
  cleanup(): Promise<void>;
}

export async function createRedisTestEnv(label: string): Promise<RedisTestEnv> {
  const prefix = `t:${uniqueId(label)}:`;
  const redis = new Redis(testServers.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis at ${testServers.redisUrl} is not reachable: ${(err as Error).message}`);
  }
  return {
    redis,
    prefix,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}
