import { createServer, type Server, type Socket } from 'node:net';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import { type AmqpBounds, defaultAmqpBounds } from './bounds.js';
import { Broker } from './broker.js';
import { Connection } from './connection.js';
import { createEventsBridge, runCommand } from './lightdom.js';
import { type MemoryAlarm, watchMemory } from './memoryAlarm.js';
import { createAmqpMetrics } from './metrics.js';
import { type AmqpStoreOptions, createAmqpStore } from './store.js';

export interface AmqpServerDeps {
  nc: NatsConnection;
  commands: CommandHandler;
  store: EventStore;
  logger: Logger;
  /** Where connection, message and command metrics go; none when omitted. */
  registry?: Registry;
  /** Resident memory of the process, in bytes, for the memory alarm. Default `process.memoryUsage.rss`. */
  rss?: () => number;
}

/**
 * Sockets accepted beyond `maxConnections` only to be refused at connection.open (530, as
 * RabbitMQ's `connection_max`); past this many more, a socket is closed at once.
 */
export const REFUSED_HANDSHAKES_MAX = 64;

export interface AmqpServerOptions extends AmqpStoreOptions, AmqpBounds {
  /** Interface to bind. Default `0.0.0.0`. */
  host: string;
  /** API token → actor. When non-empty, the PLAIN password must be a token (the username is ignored). */
  tokens: Map<string, string>;
  /** Username → password accepted when `tokens` is empty. Default guest/guest. */
  users: Map<string, string>;
  /** Largest frame offered and accepted, in bytes. Default 131072. */
  frameMax: number;
  /** Highest channel number per connection. Default 2047. */
  channelMax: number;
  /** Socket bytes buffered before deliveries pause, in bytes. Default 4 MiB. */
  highWaterMark: number;
  /**
   * Largest message body, in bytes; larger publishes are channel error 406. Default: the
   * NATS server's max_payload less 64 KiB for headers (so a durable queue can store it).
   */
  maxMessageBytes: number;
}

export interface AmqpServer {
  /** Restores durable queues, binds and serves; resolves with the bound port (useful with port 0). */
  start(port: number): Promise<number>;
  /** Closes every connection (320 CONNECTION_FORCED) and stops listening. */
  stop(): Promise<void>;
  readonly broker: Broker;
}

/**
 * The AMQP 0-9-1 edge: RabbitMQ clients publish and consume through it; durable queues
 * live in JetStream; `lightdom.events` and `lightdom.commands` connect them to the log.
 *
 * @example
 * const amqp = createAmqpServer({ nc, commands, store, logger }, { tokens });
 * const port = await amqp.start(5673);
 * // … later
 * await amqp.stop();
 */
export function createAmqpServer(deps: AmqpServerDeps, options: Partial<AmqpServerOptions> = {}): AmqpServer {
  const opts: AmqpServerOptions = Object.freeze({
    host: '0.0.0.0',
    tokens: new Map<string, string>(),
    users: new Map([['guest', 'guest']]),
    frameMax: 131072,
    channelMax: 2047,
    highWaterMark: 4 * 1024 * 1024,
    maxMessageBytes: (deps.nc.info?.max_payload ?? 1_048_576) - 65_536,
    stream: 'AMQP_QUEUES',
    subjectPrefix: 'amqp',
    topologyBucket: 'AMQP_TOPOLOGY',
    storage: 'file' as const,
    ...defaultAmqpBounds(),
    ...options,
  });
  const broker = new Broker(createAmqpStore(deps.nc, opts), deps.logger, opts);
  const bridge = createEventsBridge({ store: deps.store, broker, logger: deps.logger });
  broker.eventsBindingChanged = (b, bound) => bridge.bindingChanged(b, bound);
  const connections = new Set<Connection>();
  const metrics = createAmqpMetrics(deps.registry);
  const authenticate = (user: string, pass: string) => {
    if (opts.tokens.size > 0) return opts.tokens.get(pass);
    return opts.users.get(user) === pass && pass !== '' ? user : undefined;
  };
  let alarm: MemoryAlarm | undefined;
  const server: Server = createServer((socket: Socket) => {
    if (connections.size >= opts.maxConnections + REFUSED_HANDSHAKES_MAX) {
      deps.logger.debug({ remote: socket.remoteAddress }, 'AMQP: far above the connection limit, socket closed');
      socket.destroy();
      return;
    }
    const refusal =
      connections.size >= opts.maxConnections
        ? `connection refused: node connection limit (${opts.maxConnections}) is reached`
        : undefined;
    if (refusal) deps.logger.info({ remote: socket.remoteAddress, limit: opts.maxConnections }, `AMQP ${refusal}`);
    const c = new Connection(
      socket,
      broker,
      {
        frameMax: opts.frameMax,
        heartbeatSeconds: opts.heartbeatSeconds,
        channelMax: opts.channelMax,
        highWaterMark: opts.highWaterMark,
        maxMessageBytes: opts.maxMessageBytes,
        handshakeTimeoutMs: opts.handshakeTimeoutMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        maxUnfinishedContentBytes: opts.maxUnfinishedContentBytes,
        maxPrefetch: opts.maxPrefetch,
        maxTableDepth: opts.maxTableDepth,
        ...(refusal ? { refusal } : {}),
        metrics,
        authenticate,
        runCommand: async (body, props, actor) => {
          const reply = await runCommand(deps, body, props, actor);
          metrics.command(reply.outcome);
          return { properties: reply.properties, body: reply.body };
        },
      },
      deps.logger,
      (closed) => {
        connections.delete(closed);
        metrics.connectionClosed();
      },
    );
    connections.add(c);
    metrics.connectionOpened();
    if (alarm?.on) c.setMemoryAlarm(true);
  });

  return {
    broker,
    async start(port) {
      await broker.recover();
      alarm = watchMemory(
        {
          watermarkBytes: opts.memoryHighWatermarkBytes,
          intervalMs: opts.memoryCheckIntervalMs,
          rss: deps.rss ?? (() => process.memoryUsage.rss()),
        },
        deps.logger,
        (on) => {
          for (const c of connections) c.setMemoryAlarm(on);
        },
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, opts.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    async stop() {
      alarm?.stop();
      bridge.stop();
      for (const c of connections) c.forceClose("broker forced connection closure with reason 'shutdown'");
      await broker.settled();
      await new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        const timer = setTimeout(resolve, 1500);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
