import { cpus, totalmem } from 'node:os';
import { testServers } from '@lightdom/testkit';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import pg from 'pg';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  natsServer: string;
  postgres: string;
  redis: string;
}

/** What the figures were measured on; server versions come from the servers themselves. */
export async function describeMachine(): Promise<MachineInfo> {
  const nc = await connect({ servers: testServers.natsUrl, timeout: 3000 });
  const natsServer = nc.info?.version ?? 'unknown';
  await nc.close();
  const client = new pg.Client({ connectionString: testServers.databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('show server_version');
  await client.end();
  const redis = new Redis(testServers.redisUrl, { maxRetriesPerRequest: 1 });
  const info = await redis.info('server');
  redis.disconnect();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer,
    postgres: rows[0]?.server_version.split(' ')[0] ?? 'unknown',
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
  };
}
