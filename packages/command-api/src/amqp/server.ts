import {
  type AmqpServer,
  type AmqpServerOptions,
  createAmqpServer as createServer,
  plainCredentials,
} from '@lightdom/amqp-server';
import { type Application, createApplication } from '@lightdom/app';
import type { Identity } from '@lightdom/domain';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import { createTokenRegistry, type Logger, type TokenRegistry } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import { Counter, type Registry } from 'prom-client';
import type { FeedHub } from '../feed/types.js';
import { defaultAmqpBounds } from './bounds.js';
import { type AmqpIdentity, commandsExchange, eventsExchange } from './lightdom.js';

export interface AmqpServerDeps {
  nc: NatsConnection;
  commands: CommandHandler;
  store: EventStore;
  logger: Logger;
  /**
   * The application core (main.ts shares one with HTTP and gRPC); absent: one is built
   * from `commands`, `store` and `options.tokens`.
   */
  application?: Application;
  /** The process's feed hub, shared with HTTP and gRPC; absent: `lightdom.events` makes its own. */
  feed?: FeedHub;
  /** Where connection, message and command metrics go; none when omitted. */
  registry?: Registry;
  /** Resident memory of the process, in bytes, for the memory alarm. Default `process.memoryUsage.rss`. */
  rss?: () => number;
}

export interface LightdomAmqpOptions extends Omit<AmqpServerOptions, 'authenticate' | 'exchangePlugins'> {
  /** Who each token is, when `deps.application` is absent. Default: no token (every login but guest's refused). */
  tokens: TokenRegistry;
  /** `AMQP_ALLOW_GUEST`: accept `guest`/`guest` as {@link guestIdentity}. Default false. */
  allowGuest: boolean;
}

/** Who `guest`/`guest` is when `AMQP_ALLOW_GUEST=true`: a reader (queues and events, no commands). */
export const guestIdentity: Identity = Object.freeze({ actor: 'guest', role: 'reader' });

/**
 * The PLAIN login: the password is a token of the core (any username); `guest`/`guest` only
 * when allowed. Anything else refuses the connection (403 ACCESS_REFUSED during the handshake).
 */
export function amqpLogin(app: Application, allowGuest: boolean) {
  return (_mechanism: string, response: Buffer): AmqpIdentity | undefined => {
    const { username, password } = plainCredentials(response);
    if (username === 'guest' && password === 'guest' && app.deps.tokens.enabled) {
      return allowGuest ? { name: guestIdentity.actor, identity: guestIdentity } : undefined;
    }
    try {
      const identity = app.authenticate({ token: password });
      return { name: identity.actor, identity };
    } catch {
      return undefined;
    }
  };
}

/** The `lightdom_amqp_commands_total` counter (shared by a second server on the same registry). */
function commandCounter(registry: Registry | undefined) {
  if (!registry) return undefined;
  const name = 'lightdom_amqp_commands_total';
  return (
    (registry.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Commands run through lightdom.commands, by outcome (ok or an error code)',
      labelNames: ['outcome'],
      registers: [registry],
    })
  );
}

/**
 * LightDom's AMQP 0-9-1 edge: the generic server of `@lightdom/amqp-server` with
 * `lightdom.events` and `lightdom.commands` plugged in and logins checked by the core.
 *
 * @example
 * const amqp = createAmqpServer({ nc, commands, store, logger, application }, { allowGuest: false });
 * const port = await amqp.start(5673);
 * // … later
 * await amqp.stop();
 */
export function createAmqpServer(deps: AmqpServerDeps, options: Partial<LightdomAmqpOptions> = {}): AmqpServer {
  const { tokens = createTokenRegistry([]), allowGuest = false, ...rest } = options;
  const app = deps.application ?? createApplication({ commands: deps.commands, store: deps.store, tokens });
  const commands = commandCounter(deps.registry);
  return createServer<AmqpIdentity>(
    {
      nc: deps.nc,
      logger: deps.logger,
      ...(deps.registry ? { registry: deps.registry } : {}),
      ...(deps.rss ? { rss: deps.rss } : {}),
    },
    {
      host: '0.0.0.0',
      product: 'LightDom AMQP gateway',
      metricPrefix: 'lightdom_amqp',
      ...defaultAmqpBounds(),
      ...rest,
      authenticate: amqpLogin(app, allowGuest),
      exchangePlugins: [
        eventsExchange({ store: deps.store, logger: deps.logger, ...(deps.feed ? { feed: deps.feed } : {}) }),
        commandsExchange({
          app,
          logger: deps.logger,
          onOutcome: (o) => commands?.inc({ outcome: o }),
        }),
      ],
    },
  );
}
