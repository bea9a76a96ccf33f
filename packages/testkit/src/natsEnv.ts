import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { testServers, uniqueId } from './servers.js';

export interface NatsTestEnv {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Stream, subject prefix and KV bucket names owned by this test file alone. */
  stream: string;
  subjectPrefix: string;
  kvBucket: string;
  id: string;
  /** Deletes the stream and bucket and closes the connection. */
  cleanup(): Promise<void>;
}

/** A NATS connection with names no other test (or earlier run) uses. */
export async function createNatsTestEnv(label: string): Promise<NatsTestEnv> {
  const id = uniqueId(label);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: testServers.natsUrl, timeout: 3000 });
  } catch (err) {
    throw new Error(`NATS at ${testServers.natsUrl} is not reachable: ${(err as Error).message}`);
  }
  const jsm = await nc.jetstreamManager();
  const stream = `T_${id.toUpperCase()}`;
  const kvBucket = `TKV_${id.toUpperCase()}`;
  return {
    nc,
    jsm,
    stream,
    subjectPrefix: `t_${id}`,
    kvBucket,
    id,
    async cleanup() {
      if (nc.isClosed()) return;
      const streams = await jsm.streams.names().next();
      for (const name of streams) {
        // Also streams a test derived from its names (e.g. `${stream}_LOSSY`, a gateway's queue stream).
        if (name.startsWith(stream) || name.startsWith(`KV_${kvBucket}`)) {
          await jsm.streams.delete(name).catch(() => undefined);
        }
      }
      await nc.close();
    },
  };
}
