import { randomUUID } from 'node:crypto';
import {
  type AmqpPrincipal,
  accessRefused,
  type BasicProperties,
  type ExchangeFeed,
  type ExchangePlugin,
  encodeProperties,
  type PluginBinding,
} from '@lightdom/amqp-server';
import { type Application, toCodedError } from '@lightdom/app';
import { type Identity, isLightdomError, LightdomError, type RecordedEvent } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import { createFeedHub } from '../feed/hub.js';
import { feedHubDefaults } from '../feed/options.js';
import type { FeedHub, FeedSubscription } from '../feed/types.js';
import { amqpReplyCodeOf } from './replyCodes.js';

export const EVENTS_EXCHANGE = 'lightdom.events';
export const COMMANDS_EXCHANGE = 'lightdom.commands';

/** `<aggregateType>.<EventType>`, e.g. `campaign.CampaignLaunched`. */
export const eventRoutingKey = (e: RecordedEvent) => `${e.aggregateType}.${e.type}`;

export function eventMessage(e: RecordedEvent): { properties: Buffer; body: Buffer } {
  return {
    properties: encodeProperties({
      contentType: 'application/json',
      deliveryMode: 2,
      messageId: e.id,
      correlationId: e.correlationId,
      type: e.type,
      timestamp: Math.floor(Date.parse(e.timestamp) / 1000),
      headers: {
        'lightdom-position': e.position,
        'lightdom-index': e.index,
        'lightdom-aggregate-type': e.aggregateType,
        'lightdom-aggregate-id': e.aggregateId,
        'lightdom-version': e.version,
      },
    }),
    body: Buffer.from(JSON.stringify(e)),
  };
}

/**
 * `lightdom.events`, fed from the log: one feed-hub subscription for the gateway, started
 * at the head when the first queue is bound (the hub shares its consumer with the other
 * edges when `feed` is given). Each binding remembers the head position at the moment it
 * was made and matches only later events. Clients may not publish to it.
 */
export function eventsExchange(deps: { store: EventStore; logger: Logger; feed?: FeedHub }): ExchangePlugin {
  let exchange: ExchangeFeed | undefined;
  const feed = deps.feed ?? createFeedHub({ store: deps.store, logger: deps.logger }, feedHubDefaults);
  let sub: FeedSubscription | undefined;
  let starting: Promise<void> | undefined;
  let stopped = false;
  // The last event routed: a resubscription continues right after it, even inside a commit.
  let seen: { position: number; index?: number } = { position: 0 };

  async function follow() {
    sub = await feed.subscribe(
      {},
      { after: seen.position, ...(seen.index !== undefined ? { afterIndex: seen.index } : {}) },
    );
    const current = sub;
    (async () => {
      try {
        for await (const event of current) {
          seen = { position: event.position, index: event.index };
          exchange?.publish(eventRoutingKey(event), eventMessage(event), event.position, event.id);
        }
      } catch (err) {
        deps.logger.warn({ err }, 'AMQP: lightdom.events subscription failed; resubscribing');
      }
      current.stop();
      if (stopped) return;
      await new Promise((r) => setTimeout(r, 1000));
      if (!stopped) follow().catch((err) => deps.logger.error({ err }, 'AMQP: lightdom.events resubscribe failed'));
    })();
  }

  return {
    name: EVENTS_EXCHANGE,
    type: 'topic',
    publishRefusal: `'${EVENTS_EXCHANGE}' is fed by the event log only`,
    start(feed) {
      exchange = feed;
    },
    async bindingChanged(b: PluginBinding, bound: boolean) {
      if (!bound) return;
      // A binding restored (or made on another gateway) keeps its position; a new one starts at the head.
      if (b.fromPosition === undefined) b.fromPosition = await deps.store.headPosition();
      if (!starting) {
        seen = { position: b.fromPosition };
        starting = follow().catch((err) => {
          starting = undefined;
          throw err;
        });
      }
      await starting;
    },
    stop() {
      stopped = true;
      sub?.stop();
      if (!deps.feed) feed.stop().catch(() => undefined);
    },
  };
}

/** The body of an error reply: the same fields as an HTTP problem's. */
export function errorReply(err: LightdomError) {
  return {
    code: err.code,
    message: err.message,
    retryable: err.retryable,
    errors: err.issues ?? [],
    ...(err.details ? { details: err.details } : {}),
  };
}

/** W3C trace context: `version-traceid-parentid-flags`. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The `traceparent` header of a message, when it is a well-formed W3C trace context (else dropped). */
export function traceparentOf(props: BasicProperties): string | undefined {
  const value = props.headers?.traceparent;
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  return typeof text === 'string' && TRACEPARENT.test(text) ? text : undefined;
}

/** A logged-in AMQP connection: the core's identity for its token. */
export interface AmqpIdentity extends AmqpPrincipal {
  readonly identity: Identity;
}

const refused = (err: LightdomError) => accessRefused(err.message);

/**
 * `lightdom.commands`: a command published here goes to the core's `submit` as the
 * connection's identity, and its result (or error) is the reply to the message's
 * `reply_to`. A command the identity may not send is channel error 403 ACCESS_REFUSED
 * (nothing is appended, no reply). Queues may not be bound to it.
 */
export function commandsExchange(deps: {
  app: Application;
  logger: Logger;
  /** Counts each command's outcome (`ok` or an error code). */
  onOutcome?: (outcome: string) => void;
}): ExchangePlugin<AmqpIdentity> {
  return {
    name: COMMANDS_EXCHANGE,
    type: 'direct',
    bindRefusal: `queues cannot be bound to '${COMMANDS_EXCHANGE}': publish commands to it`,
    publish(message, principal) {
      const props = message.properties;
      let envelope: unknown;
      try {
        envelope = JSON.parse(message.body.toString('utf8'));
      } catch {
        envelope = undefined;
      }
      // Checked before anything runs, so a refusal closes the channel before any confirm.
      const type = (envelope as { type?: unknown } | null)?.type;
      if (typeof type === 'string') {
        try {
          deps.app.authorize(principal.identity, { kind: 'command', type });
        } catch (err) {
          deps.onOutcome?.('FORBIDDEN');
          throw isLightdomError(err) ? refused(err) : err;
        }
      }
      return runCommand(deps, envelope, props, principal.identity).then((reply) => {
        deps.onOutcome?.(reply.outcome);
        if (reply.outcome === 'FORBIDDEN') throw accessRefused(reply.message);
        return { properties: reply.properties, body: reply.body };
      });
    },
  };
}

/**
 * Runs a command published to `lightdom.commands` through the core and returns the reply
 * message for its `reply_to`: the CommandResult, or an error object with code, message and
 * errors (`envelope` undefined: the body was not JSON).
 */
export async function runCommand(
  deps: { app: Application; logger: Logger },
  envelope: unknown,
  props: BasicProperties,
  identity: Identity,
): Promise<{ properties: Buffer; body: Buffer; outcome: string; message: string }> {
  const requestId = props.messageId || randomUUID();
  let reply: unknown;
  let failure: LightdomError | undefined;
  try {
    if (envelope === undefined) {
      throw new LightdomError('UNSUPPORTED_MEDIA_TYPE', 'The message body must be a JSON command envelope');
    }
    const traceparent = traceparentOf(props);
    reply = await deps.app.submit(identity, envelope, {
      correlationId: props.correlationId || requestId,
      causationId: requestId,
      edge: 'amqp',
      ...(traceparent ? { traceparent } : {}),
    });
  } catch (err) {
    failure = toCodedError(err);
    if (failure.code === 'INTERNAL') deps.logger.error({ err }, 'AMQP command failed');
    reply = errorReply(failure);
  }
  const properties: BasicProperties = {
    contentType: 'application/json',
    type: failure ? 'Error' : 'CommandResult',
    headers: failure
      ? { 'lightdom-status': 'error', 'lightdom-reply-code': amqpReplyCodeOf[failure.code] }
      : { 'lightdom-status': 'ok' },
    ...(props.correlationId ? { correlationId: props.correlationId } : {}),
  };
  return {
    properties: encodeProperties(properties),
    body: Buffer.from(JSON.stringify(reply)),
    outcome: failure ? failure.code : 'ok',
    message: failure?.message ?? '',
  };
}
