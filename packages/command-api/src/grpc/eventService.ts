import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Application } from '@lightdom/app';
import { aggregateIdSchema } from '@lightdom/domain';
import { z } from 'zod';
import type { FeedFilter, FeedStart, FeedSubscription } from '../feed/types.js';
import { contextHeaders } from './call.js';
import type { CallContext } from './context.js';
import {
  type EventMessage,
  eventIndex,
  logPosition,
  parseRequest,
  type ReadRequestMessage,
  type ReadResponseMessage,
  type SubscribeRequestMessage,
  toEventMessage,
} from './messages.js';

const aggregateType = z.string().regex(/^[A-Za-z]*$/, 'must be an aggregate type such as campaign');

const readRequest = z.object({
  after: logPosition,
  limit: z
    .number()
    .int()
    .min(0)
    .max(1000)
    .transform((n) => n || 100),
  aggregateType,
  type: z.string().max(100),
});

const subscribeRequest = z
  .object({
    after: logPosition.optional(),
    afterIndex: eventIndex.optional(),
    aggregateType,
    aggregateId: z.union([z.literal(''), aggregateIdSchema]),
    types: z.array(z.string().max(100)).max(100),
  })
  .refine((r) => !r.aggregateId || r.aggregateType, { message: 'needs aggregateType', path: ['aggregateId'] })
  .refine((r) => r.afterIndex === undefined || r.after !== undefined, { message: 'needs after', path: ['afterIndex'] });

/** Resolves when the call can take more messages, or when it is cancelled or aborted. */
function drained(call: ServerWritableStream<SubscribeRequestMessage, EventMessage>, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done);
  });
}

/** `lightdom.v1.EventService`: the log itself (the core's `events` and `subscribe`), never a read model. */
export function createEventService(deps: {
  app: Pick<Application<FeedFilter, FeedStart, FeedSubscription>, 'events' | 'subscribe'>;
}) {
  return {
    async read(request: ReadRequestMessage, ctx: CallContext): Promise<ReadResponseMessage> {
      const q = parseRequest(readRequest, request);
      const page = await deps.app.events(ctx.identity, {
        after: q.after,
        limit: q.limit,
        ...(q.aggregateType ? { aggregateType: q.aggregateType } : {}),
        ...(q.type ? { type: q.type } : {}),
      });
      // Paging is by commit: continue from `nextAfter` even if a type filter left this page short.
      return { events: page.events.map(toEventMessage), nextAfter: page.nextAfter, hasMore: page.hasMore };
    },

    /**
     * The WebSocket feed's semantics: history after `after` (default: the head), then live
     * events. Resuming with the last event's (position, index) re-reads that commit and
     * skips what was seen, so a dropped stream leaves no gap and no duplicate. Writes wait
     * for HTTP/2 flow control, so a slow client slows its own subscription only.
     */
    async subscribe(
      call: ServerWritableStream<SubscribeRequestMessage, EventMessage>,
      ctx: CallContext,
      signal: AbortSignal,
    ): Promise<void> {
      const r = parseRequest(subscribeRequest, call.request);
      const sub = await deps.app.subscribe(
        ctx.identity,
        {
          ...(r.aggregateType ? { aggregateType: r.aggregateType } : {}),
          ...(r.aggregateId ? { aggregateId: r.aggregateId } : {}),
          ...(r.types.length > 0 ? { types: r.types } : {}),
        },
        {
          ...(r.after !== undefined ? { after: r.after } : {}),
          ...(r.afterIndex !== undefined ? { afterIndex: r.afterIndex } : {}),
        },
      );
      const stop = () => sub.stop();
      signal.addEventListener('abort', stop);
      if (signal.aborted) sub.stop();
      try {
        // `lightdom-after`: where the stream starts, so a client that subscribed at the head
        // can resume from there even if no event arrived.
        call.sendMetadata(contextHeaders(ctx, { 'lightdom-after': String(sub.after) }));
        for await (const event of sub) {
          if (signal.aborted) return;
          // The hub queues a bounded number of commits for a slow stream, then lets it read history.
          if (!call.write(toEventMessage(event))) await drained(call, signal);
        }
      } finally {
        signal.removeEventListener('abort', stop);
        sub.stop();
      }
    },
  };
}
