import { createServer, type Server, type Socket } from 'node:net';
import type { NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AmqpBounds } from './bounds.js';
import { Broker } from './broker.js';
import { Connection } from './connection.js';
import { type MemoryAlarm, watchMemory } from './memoryAlarm.js';
import { createAmqpMetrics } from './metrics.js';
import type { AmqpAuthenticator, AmqpPrincipal, ExchangePlugin } from './plugins.js';
import { type AmqpStoreOptions, createAmqpStore } from './store.js';

export interface AmqpServerDeps {
  /** JetStream holds durable queues and the topology. */
  nc: NatsConnection;
  logger: Logger;
  /** Where connection and message metrics go; none when omitted. */
  registry?: Registry;
  /** Resident memory of the process, in bytes, for the memory alarm. Default `process.memoryUsage.rss`. */
  rss?: () => number;
}

/**
 * Sockets accepted beyond `maxConnections` only to be refused at connection.open (530, as
 * RabbitMQ's `connection_max`); past this many more, a socket is closed at once.
 */
export const REFUSED_HANDSHAKES_MAX = 64;

export interface AmqpServerOptions<P extends AmqpPrincipal = AmqpPrincipal> extends AmqpStoreOptions, AmqpBounds {
  /** Interface to bind. Default `127.0.0.1`. */
  host: string;
  /** SASL mechanisms offered. Default `['PLAIN']`. */
  mechanisms: readonly string[];
  /** Checks each login (see `plainCredentials`); a server without one refuses every login. */
  authenticate: AmqpAuthenticator<P>;
  /** Exchanges the embedding application plugs in, next to the built-in ones. */
  exchangePlugins: readonly ExchangePlugin<P>[];
  /** `product` in connection.start. Default `AMQP 0-9-1 server`. */
  product: string;
  /** Start of every metric name. Default `amqp`. */
  metricPrefix: string;
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
 * An AMQP 0-9-1 server: RabbitMQ clients publish and consume through it; durable queues
 * live in JetStream. It knows nothing of the application behind it: logins go to
 * `authenticate`, and the application's own exchanges are `exchangePlugins`.
 *
 * @example
 * const amqp = createAmqpServer({ nc, logger }, {
 *   ...bounds,
 *   authenticate: (mechanism, response) => users.check(plainCredentials(response)),
 *   exchangePlugins: [auditExchange],
 * });
 * const port = await amqp.start(5672);
 * // … later
 * await amqp.stop();
 */
export function createAmqpServer<P extends AmqpPrincipal>(
  deps: AmqpServerDeps,
  options: Partial<AmqpServerOptions<P>> & AmqpBounds,
): AmqpServer {
  const opts: AmqpServerOptions<P> = Object.freeze({
    host: '127.0.0.1',
    mechanisms: ['PLAIN'],
    authenticate: () => undefined,
    exchangePlugins: [],
    product: 'AMQP 0-9-1 server',
    metricPrefix: 'amqp',
    frameMax: 131072,
    channelMax: 2047,
    highWaterMark: 4 * 1024 * 1024,
    maxMessageBytes: (deps.nc.info?.max_payload ?? 1_048_576) - 65_536,
    stream: 'AMQP_QUEUES',
    subjectPrefix: 'amqp',
    topologyBucket: 'AMQP_TOPOLOGY',
    storage: 'file' as const,
    sharedAckWaitMs: 30_000,
    ...options,
  });
  const plugins = opts.exchangePlugins as readonly ExchangePlugin[];
  const broker = new Broker(createAmqpStore(deps.nc, opts), deps.logger, opts, plugins);
  const connections = new Set<Connection>();
  const metrics = createAmqpMetrics(deps.registry, opts.metricPrefix);
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
        mechanisms: opts.mechanisms,
        authenticate: opts.authenticate,
        product: opts.product,
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
      for (const plugin of plugins) {
        const x = broker.exchanges.get(plugin.name)!;
        plugin.start?.({
          publish(routingKey, message, position, id) {
            const queues = broker.route(x, routingKey, position);
            if (queues.length === 0) return;
            broker
              .enqueue(queues, { exchange: plugin.name, routingKey, ...message }, id && `${plugin.name}:${id}`)
              .then(() => {
                if (position !== undefined) broker.noteProgress(plugin.name, queues, position);
              })
              .catch((err) => {
                deps.logger.warn({ err, exchange: plugin.name, position }, 'AMQP: storing a message in a queue failed');
              });
          },
        });
      }
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
      for (const plugin of plugins) plugin.stop?.();
      for (const c of connections) c.forceClose("broker forced connection closure with reason 'shutdown'");
      await broker.settled();
      await broker.stopSharing();
      await broker.flushProgress().catch((err) => deps.logger.warn({ err }, 'AMQP: saving binding progress failed'));
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
