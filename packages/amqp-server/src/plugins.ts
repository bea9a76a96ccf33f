import type { BasicProperties } from './codec.js';

/** Who a connection logged in as: whatever the authenticator returned; `name` is for the logs. */
export interface AmqpPrincipal {
  readonly name: string;
}

/**
 * Checks the SASL response of connection.start-ok. Returns the principal, or undefined to
 * refuse the login (connection.close 403 ACCESS_REFUSED, as RabbitMQ); may throw an
 * `AmqpError` to refuse with its own text. Runs during the handshake, so it is synchronous.
 */
export type AmqpAuthenticator<P extends AmqpPrincipal = AmqpPrincipal> = (
  mechanism: string,
  response: Buffer,
) => P | undefined;

/** A message a client published to a plugged-in exchange. */
export interface PublishedMessage {
  routingKey: string;
  properties: BasicProperties;
  /** The encoded property list, as the client sent it. */
  rawProperties: Buffer;
  body: Buffer;
}

/** A message to send to the publisher's `reply_to`. */
export interface PluginReply {
  properties: Buffer;
  body: Buffer;
}

/** The link a feeding plugin gets to its exchange. */
export interface ExchangeFeed {
  /**
   * Routes a message through the exchange's bindings. `position` is the plugin's own
   * sequence number: a binding made when the plugin said its head was `p` (see
   * `bindingChanged`) matches only messages with a position above `p`. `id` names the
   * message for JetStream's duplicate check: several gateways on one stream each feed the
   * exchange, and a durable queue stores each message once.
   */
  publish(routingKey: string, message: { properties: Buffer; body: Buffer }, position?: number, id?: string): void;
}

/** A binding as a plugin sees it; set `fromPosition` in `bindingChanged` to start it at a position. */
export interface PluginBinding {
  readonly queue: string;
  readonly routingKey: string;
  fromPosition?: number;
}

/**
 * An exchange whose behaviour comes from the embedding application (LightDom's
 * `lightdom.events` and `lightdom.commands`): declared built in, so clients cannot delete
 * or redeclare it with other settings.
 */
export interface ExchangePlugin<P extends AmqpPrincipal = AmqpPrincipal> {
  readonly name: string;
  readonly type: 'direct' | 'fanout' | 'topic';
  /** Queues may not be bound here: bind is channel error 403 with this text. */
  readonly bindRefusal?: string;
  /**
   * Messages published here go to `publish`. Without it, clients may not publish here and
   * a publish is channel error 403 with `publishRefusal`.
   */
  publish?(message: PublishedMessage, principal: P): Promise<PluginReply | undefined>;
  /** Why clients may not publish here (when there is no `publish`). */
  readonly publishRefusal?: string;
  /**
   * A queue was bound to or unbound from this exchange. A plugin that feeds the exchange
   * itself learns of its bindings here; such bindings are not restored with their messages
   * at a restart but bound again (so they resume where the plugin says).
   */
  bindingChanged?(binding: PluginBinding, bound: boolean): Promise<void>;
  /** Called once when the server starts, with the way to route messages into the exchange. */
  start?(feed: ExchangeFeed): void;
  /** Called when the server stops. */
  stop?(): void;
}

/** The username and password of a PLAIN response (`\0user\0password`). */
export function plainCredentials(response: Buffer): { username: string; password: string } {
  const [, username = '', password = ''] = response.toString('utf8').split('\0');
  return { username, password };
}
