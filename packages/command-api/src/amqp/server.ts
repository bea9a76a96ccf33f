import {
  type AmqpServer,
  type AmqpServerOptions,
  createAmqpServer as createServer,
  plainCredentials,
} from '@lightdom/amqp-server';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import { Counter, type Registry } from 'prom-client';
import { defaultAmqpBounds } from './bounds.js';
import { commandsExchange, eventsExchange } from './lightdom.js';

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

export interface LightdomAmqpOptions extends Omit<AmqpServerOptions, 'authenticate' | 'exchangePlugins'> {
  /** API token → actor. When non-empty, the PLAIN password must be a token (the username is ignored). */
  tokens: Map<string, string>;
  /** Username → password accepted when `tokens` is empty. Default guest/guest. */
  users: Map<string, string>;
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
 * `lightdom.events` and `lightdom.commands` plugged in.
 *
 * @example
 * const amqp = createAmqpServer({ nc, commands, store, logger }, { tokens });
 * const port = await amqp.start(5673);
 * // … later
 * await amqp.stop();
 */
export function createAmqpServer(deps: AmqpServerDeps, options: Partial<LightdomAmqpOptions> = {}): AmqpServer {
  const { tokens = new Map<string, string>(), users = new Map([['guest', 'guest']]), ...rest } = options;
  const commands = commandCounter(deps.registry);
  return createServer(
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
      authenticate: (_mechanism, response) => {
        const { username, password } = plainCredentials(response);
        const actor =
          tokens.size > 0
            ? tokens.get(password)
            : users.get(username) === password && password !== ''
              ? username
              : undefined;
        return actor ? { name: actor } : undefined;
      },
      exchangePlugins: [
        eventsExchange({ store: deps.store, logger: deps.logger }),
        commandsExchange({
          commands: deps.commands,
          logger: deps.logger,
          onOutcome: (o) => commands?.inc({ outcome: o }),
        }),
      ],
    },
  );
}
