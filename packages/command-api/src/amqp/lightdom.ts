import { randomUUID } from 'node:crypto';
import {
  type AmqpPrincipal,
  type BasicProperties,
  type ExchangeFeed,
  type ExchangePlugin,
  encodeProperties,
  type PluginBinding,
} from '@lightdom/amqp-server';
import { isLightdomError, LightdomError, type RecordedEvent } from '@lightdom/domain';
import type { CommandHandler, EventStore } from '@lightdom/eventstore';
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
          exchange?.publish(eventRoutingKey(event), eventMessage(event), event.position);
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
      const head = await deps.store.headPosition();
      b.fromPosition = head;
      if (!starting) {
        seen = { position: head };
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

/**
 * Runs a command published to `lightdom.commands` and returns the reply message for its
 * `reply_to`: the CommandResult, or an error object with code, message and errors.
 */
export async function runCommand(
  deps: { commands: CommandHandler; logger: Logger },
  body: Buffer,
  props: BasicProperties,
  actor: string,
): Promise<{ properties: Buffer; body: Buffer; outcome: string }> {
  const requestId = props.messageId || randomUUID();
  let reply: unknown;
  let failure: LightdomError | undefined;
  try {
    let envelope: unknown;
    try {
      envelope = JSON.parse(body.toString('utf8'));
    } catch {
      throw new LightdomError('UNSUPPORTED_MEDIA_TYPE', 'The message body must be a JSON command envelope');
    }
    reply = await deps.commands.handle(envelope, {
      actor,
      correlationId: props.correlationId || requestId,
      causationId: requestId,
    });
  } catch (err) {
    failure = isLightdomError(err) ? err : new LightdomError('INTERNAL', undefined, { cause: err });
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
  };
}

/**
 * `lightdom.commands`: a command published here runs, and its result (or error) is the
 * reply to the message's `reply_to`. Queues may not be bound to it.
 */
export function commandsExchange(deps: {
  commands: CommandHandler;
  logger: Logger;
  /** Counts each command's outcome (`ok` or an error code). */
  onOutcome?: (outcome: string) => void;
}): ExchangePlugin<AmqpPrincipal> {
  return {
    name: COMMANDS_EXCHANGE,
    type: 'direct',
    bindRefusal: `queues cannot be bound to '${COMMANDS_EXCHANGE}': publish commands to it`,
    async publish(message, principal) {
      const reply = await runCommand(deps, message.body, message.properties, principal.name);
      deps.onOutcome?.(reply.outcome);
      return { properties: reply.properties, body: reply.body };
    },
  };
}
