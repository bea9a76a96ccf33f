import { type ConnectionOptions, connect, type NatsConnection } from 'nats';
import type { Logger } from 'pino';

/** A NATS connection plus whether it is up right now (status events tracked). */
export interface NatsHandle {
  nc: NatsConnection;
  isConnected(): boolean;
  close(): Promise<void>;
}

export interface ConnectNatsOptions {
  url: string;
  name: string;
  logger?: Logger;
  /** Wait for a first connection instead of failing at once. Default true. */
  waitOnFirstConnect?: boolean;
  extra?: Partial<ConnectionOptions>;
}

export function trackConnection(nc: NatsConnection, logger?: Logger): () => boolean {
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        connected = false;
        logger?.warn({ nats: s.data }, 'NATS connection lost');
      } else if (s.type === 'reconnect') {
        connected = true;
        logger?.info({ nats: s.data }, 'NATS connection restored');
      }
    }
  })();
  void nc.closed().then(() => {
    connected = false;
  });
  return () => connected && !nc.isClosed();
}

/**
 * Connects with endless reconnects, so a service rides out a NATS restart without a
 * manual restart of its own.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsHandle> {
  const nc = await connect({
    servers: opts.url.split(','),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: 5_000,
    maxPingOut: 2,
    // nats.js otherwise builds an Error (and its stack) for every request and publish, up
    // front, in case it times out: measurable per command (docs/BENCHMARKS.md). Errors keep
    // their own stack; only the caller's async frames are left out of a time-out's trace.
    noAsyncTraces: true,
    ...opts.extra,
  });
  const isConnected = trackConnection(nc, opts.logger);
  return {
    nc,
    isConnected,
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
