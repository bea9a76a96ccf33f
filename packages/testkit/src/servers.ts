import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import pg from 'pg';

/** Where the real servers are; the same variables the services read, with local defaults. */
export const testServers = {
  natsUrl: process.env.TEST_NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  databaseUrl: process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  redisUrl: process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** A short unique, lower-case token usable in stream, subject, schema and key names. */
export const uniqueId = (label: string): string =>
  `${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

const hints = {
  nats: 'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server',
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
};

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks that NATS (with JetStream), Postgres and Redis answer. Throws one error that
 * names every server that does not, with the command that starts it.
 */
export async function assertServersReachable(servers: typeof testServers = testServers): Promise<void> {
  const problems: string[] = [];
  try {
    const nc = await within(3000, connect({ servers: servers.natsUrl, timeout: 2000 }));
    try {
      await within(3000, (await nc.jetstreamManager()).getAccountInfo());
    } finally {
      await nc.close();
    }
  } catch (err) {
    problems.push(
      `NATS JetStream at ${servers.natsUrl} is not reachable (${(err as Error).message}); start it: ${hints.nats}`,
    );
  }
  try {
    const client = new pg.Client({ connectionString: servers.databaseUrl, connectionTimeoutMillis: 3000 });
    await within(4000, client.connect());
    await client.query('select 1');
    await client.end();
  } catch (err) {
    problems.push(
      `PostgreSQL at ${servers.databaseUrl} is not reachable (${(err as Error).message}); start it: ${hints.postgres}`,
    );
  }
  const redis = new Redis(servers.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000 });
  redis.on('error', () => undefined);
  try {
    await within(4000, redis.connect());
    await redis.ping();
  } catch (err) {
    problems.push(
      `Redis at ${servers.redisUrl} is not reachable (${(err as Error).message}); start it: ${hints.redis}`,
    );
  } finally {
    redis.disconnect();
  }
  if (problems.length > 0) {
    throw new Error(`Tests need real servers:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
