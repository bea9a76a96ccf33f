import { expect, it } from 'vitest';
import { assertServersReachable, testServers } from '../src/index.js';

it('passes when every server answers', async () => {
  await expect(assertServersReachable()).resolves.toBeUndefined();
});

it('names each unreachable server and how to start it', async () => {
  const err = await assertServersReachable({
    natsUrl: 'nats://127.0.0.1:1',
    databaseUrl: testServers.databaseUrl,
    redisUrl: 'redis://127.0.0.1:1',
  }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  const message = (err as Error).message;
  expect(message).toContain('NATS JetStream at nats://127.0.0.1:1 is not reachable');
  expect(message).toContain('Redis at redis://127.0.0.1:1 is not reachable');
  expect(message).toContain('nats-server');
  expect(message).not.toContain('PostgreSQL at');
});
