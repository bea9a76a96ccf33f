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
  /** Publishes of one event-loop turn leave in one socket write (see {@link coalesceWrites}). Default true. */
  coalesceWrites?: boolean;
}

interface ProtocolInternals {
  outbound: { length(): number; size(): number; fill(buf: Uint8Array, ...payloads: Uint8Array[]): void };
  pendingLimit: number;
  flushPending(): void;
  sendCommand(cmd: string | Uint8Array, ...payloads: Uint8Array[]): void;
}

/**
 * nats.js writes its outbound buffer to the socket in a microtask after the first command
 * of a turn, so commands that arrive on different socket reads (one HTTP request each) each
 * cost a `write` system call: the largest single item in the command-api's profile under
 * load (issue 12). This makes that deferred write wait for `setImmediate` instead: the
 * commands of every callback of one poll phase share one write, in the order they were
 * issued. Writes nats.js makes at once stay at once (a full buffer, `flush()`, a reconnect).
 * Returns false, changing nothing, if the client's internals are not the shape expected
 * (nats.js 2.x).
 */
export function coalesceWrites(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
  const out = protocol?.outbound;
  if (
    !protocol ||
    !out ||
    typeof out.length !== 'function' ||
    typeof out.size !== 'function' ||
    typeof out.fill !== 'function' ||
    typeof protocol.flushPending !== 'function' ||
    typeof protocol.sendCommand !== 'function' ||
    typeof protocol.pendingLimit !== 'number'
  ) {
    return false;
  }
  const p = protocol as ProtocolInternals;
  const encoder = new TextEncoder();
  let scheduled = false;
  const flushLater = () => {
    scheduled = false;
    p.flushPending();
  };
  p.sendCommand = (cmd, ...payloads) => {
    const empty = p.outbound.length() === 0;
    p.outbound.fill(typeof cmd === 'string' ? encoder.encode(cmd) : cmd, ...payloads);
    if (p.outbound.size() >= p.pendingLimit) p.flushPending();
    else if (empty && !scheduled) {
      scheduled = true;
      setImmediate(flushLater);
    }
  };
  return true;
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
  if ((opts.coalesceWrites ?? true) && !coalesceWrites(nc)) {
    opts.logger?.warn('nats.js internals not as expected: publishes are written one turn at a time');
  }
  const isConnected = trackConnection(nc, opts.logger);
  return {
    nc,
    isConnected,
    close: async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
    },
  };
}
