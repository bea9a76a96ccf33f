import websocket from '@fastify/websocket';
import { type Application, toCodedError } from '@lightdom/app';
import { type Identity, LightdomError } from '@lightdom/domain';
import type { Logger } from '@lightdom/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { FeedFilter, FeedStart, FeedSubscription } from '../feed/types.js';
import { credentialsOf, requestContext } from './context.js';
import { routeDoc } from './openapi.js';
import { checkOrigin, keepAlive, type WsSocketBounds } from './wsGuards.js';

export interface LiveFeedDeps {
  /** The core: authenticates, submits commands, serves subscriptions (the process's feed hub). */
  app: Application<FeedFilter, FeedStart, FeedSubscription>;
  logger: Logger;
}

/** Close code for a missing, wrong or late token: 4000 + HTTP 401. */
export const WS_UNAUTHORIZED_CLOSE_CODE = 4401;

export interface LiveFeedOptions {
  /** Subscriptions one socket may hold (FEED_MAX_SUBSCRIPTIONS_PER_SOCKET); more: LIMIT_EXCEEDED. */
  maxSubscriptions: number;
  /** A socket whose unsent data passes this many bytes is closed (1013) to resume later. Default 8 MiB. */
  maxBufferedBytes: number;
  /** Origin allow-list, ping and idle bounds (issue 7); absent: no Origin check, no pings. */
  socket?: WsSocketBounds;
  /** Largest frame, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** A socket opened without an Authorization header must send its `auth` frame within this, in ms. Default 10 s. */
  authTimeoutMs?: number;
}

/** The first frame of a browser's socket: browsers cannot set headers on a WebSocket. */
const authFrame = z.object({ type: z.literal('auth'), token: z.string().min(1).max(4096) }).strict();

/** A position in a frame: JSON numbers up to 2^53 − 1, so `1e300` is refused, naming the field. */
const framePosition = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const subscribeFrame = z
  .object({
    op: z.literal('subscribe'),
    id: z.string().min(1).max(100),
    /** Deliver events after this position; omitted: from now on. */
    after: framePosition.optional(),
    /** With `after`: events of that commit with an index up to this one were already seen. */
    afterIndex: framePosition.optional(),
    filter: z
      .object({
        aggregateType: z
          .string()
          .regex(/^[A-Za-z]+$/)
          .optional(),
        aggregateId: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,100}$/)
          .optional(),
        types: z.array(z.string()).max(100).optional(),
      })
      .strict()
      .refine((f) => !f.aggregateId || f.aggregateType, {
        message: 'aggregateId needs aggregateType',
        path: ['aggregateId'],
      })
      .optional(),
  })
  .strict();

const frame = z.discriminatedUnion('op', [
  subscribeFrame,
  z.object({ op: z.literal('unsubscribe'), id: z.string() }).strict(),
  // The command handler validates the envelope itself, naming each bad field.
  // A command's id becomes part of its causation id: the charset of trace ids.
  z
    .object({
      op: z.literal('command'),
      id: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 characters of A-Z, a-z, 0-9, . _ : or -'),
      command: z.unknown(),
    })
    .strict(),
  z.object({ op: z.literal('ping') }).strict(),
]);

/** The `id` of a refused frame, when it has a usable one, so the client can tell which frame failed. */
const frameIdOf = (json: unknown): { id?: string } => {
  const id = typeof json === 'object' && json !== null ? (json as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length <= 100 ? { id } : {};
};

const errorBody = (err: unknown) => {
  const e = toCodedError(err);
  return { code: e.code, message: e.message, retryable: e.retryable, ...(e.issues ? { errors: e.issues } : {}) };
};

/**
 * `/ws`: live events and commands over one socket. A client subscribes with a filter
 * and a start position and receives every matching event with its position; after a
 * reconnect it subscribes again with the last (position, index) it saw and gets no gap
 * and no duplicate. Commands sent on the socket are acknowledged with the same result
 * as `POST /api/commands`.
 */
/** Live events are shared by every subscriber (feed/subscriber.ts): each is encoded once. */
const encodedEvents = new WeakMap<object, string>();
function eventJson(event: object): string {
  let text = encodedEvents.get(event);
  if (text === undefined) {
    text = JSON.stringify(event);
    encodedEvents.set(event, text);
  }
  return text;
}

export const liveFeed = (deps: LiveFeedDeps, options: Partial<LiveFeedOptions> = {}) =>
  async function liveFeedPlugin(app: FastifyInstance) {
    const opts: LiveFeedOptions = { maxSubscriptions: 16, maxBufferedBytes: 8 * 1024 * 1024, ...options };
    await app.register(websocket, { options: { maxPayload: opts.maxPayloadBytes ?? 1024 * 1024 } });
    const guards = opts.socket;
    // The Origin is checked before the upgrade: a refused page never gets a socket.
    const route = {
      websocket: true as const,
      schema: routeDoc({
        tags: ['live'],
        summary: 'WebSocket upgrade: live events and commands (frames in /asyncapi.json)',
        description:
          'Credentials: an `Authorization: Bearer` header on the upgrade, or (browsers) a first frame `{"type":"auth","token":"…"}` answered `{"type":"authenticated","actor","role"}`. A bad or missing token closes the socket with 4401.',
      }).schema,
      ...(guards ? { preValidation: checkOrigin(guards.allowedOrigins) } : {}),
    };

    app.get('/ws', route, (socket: WebSocket, req: FastifyRequest) => {
      const log = req.log;
      const refuse = (err: unknown) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify({ op: 'error', error: errorBody(err) }));
        socket.close(WS_UNAUTHORIZED_CLOSE_CODE, 'unauthorized');
      };
      // The upgrade's header, or, for browsers, a first frame `{"type":"auth","token":…}`
      // (nothing else is accepted before it). `?token=` on the upgrade still works for older
      // clients but is deprecated: a URL ends in histories and proxies' logs.
      const queryToken = (req.query as { token?: unknown }).token;
      if (req.headers.authorization !== undefined || queryToken !== undefined) {
        let identity: Identity;
        try {
          identity = deps.app.authenticate(
            req.headers.authorization !== undefined
              ? credentialsOf(req)
              : { token: typeof queryToken === 'string' ? queryToken : undefined },
          );
        } catch (err) {
          refuse(err);
          return;
        }
        serve(identity);
        return;
      }
      const deadline = setTimeout(
        () => refuse(new LightdomError('UNAUTHORIZED', 'No auth frame in time')),
        opts.authTimeoutMs ?? 10_000,
      );
      socket.once('close', () => clearTimeout(deadline));
      socket.once('message', (raw) => {
        clearTimeout(deadline);
        let identity: Identity;
        try {
          let json: unknown;
          try {
            json = JSON.parse(raw.toString());
          } catch {
            json = undefined;
          }
          const f = authFrame.safeParse(json);
          if (!f.success) {
            throw new LightdomError('UNAUTHORIZED', 'The first frame must be {"type":"auth","token":"…"}', {
              issues: [{ field: 'type', message: 'must be auth, with a token' }],
            });
          }
          identity = deps.app.authenticate({ token: f.data.token });
        } catch (err) {
          refuse(err);
          return;
        }
        socket.send(
          JSON.stringify({ op: 'authenticated', type: 'authenticated', actor: identity.actor, role: identity.role }),
        );
        serve(identity);
      });

      function serve(identity: Identity) {
        const subscriptions = new Map<string, FeedSubscription>();
        // Set-ups still running when their subscription was cancelled: each holds a hub slot
        // until it settles, so it counts against the socket's cap (a client pipelining
        // subscribe/unsubscribe cannot pile them up).
        const settingUp = new WeakSet<FeedSubscription>();
        let abandoned = 0;
        // Frames sent in the same turn of the event loop (a burst of live commits) leave in
        // one write: the TCP socket is corked at the first and uncorked once the turn's
        // callbacks ran. A socket that fell behind then catches up with few large writes
        // instead of one system call per frame (docs/BENCHMARKS.md, ws-fanout).
        const tcp = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
        let corked = false;
        const uncork = () => {
          corked = false;
          tcp?.uncork();
        };
        const sendText = (text: string) => {
          if (socket.readyState !== socket.OPEN) return false;
          if (socket.bufferedAmount > opts.maxBufferedBytes) {
            // Too slow to keep up: close and let it resume from its last position.
            socket.close(1013, 'slow consumer: resume from your last position');
            return false;
          }
          if (tcp && !corked) {
            corked = true;
            tcp.cork();
            process.nextTick(uncork);
          }
          socket.send(text);
          return true;
        };
        const send = (msg: unknown) => sendText(JSON.stringify(msg));

        async function subscribe(f: z.infer<typeof subscribeFrame>) {
          if (subscriptions.has(f.id)) throw new LightdomError('VALIDATION_FAILED', `Subscription ${f.id} exists`);
          if (subscriptions.size + abandoned >= opts.maxSubscriptions) {
            throw new LightdomError('LIMIT_EXCEEDED', `At most ${opts.maxSubscriptions} subscriptions per socket`, {
              details: { limit: opts.maxSubscriptions, scope: 'socket' },
            });
          }
          // Hold the slot before awaiting, so a burst of frames cannot pass the limit together.
          const pending: FeedSubscription = {
            after: 0,
            stop: () => undefined,
            [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
          };
          subscriptions.set(f.id, pending);
          settingUp.add(pending);
          let sub: FeedSubscription;
          try {
            sub = await deps.app.subscribe(
              identity,
              {
                ...(f.filter?.aggregateType ? { aggregateType: f.filter.aggregateType } : {}),
                ...(f.filter?.aggregateId ? { aggregateId: f.filter.aggregateId } : {}),
                ...(f.filter?.types ? { types: f.filter.types } : {}),
              },
              {
                ...(f.after !== undefined ? { after: f.after } : {}),
                ...(f.afterIndex !== undefined ? { afterIndex: f.afterIndex } : {}),
              },
            );
          } catch (err) {
            settingUp.delete(pending);
            if (subscriptions.get(f.id) === pending) subscriptions.delete(f.id);
            else abandoned--;
            throw err;
          }
          settingUp.delete(pending);
          if (subscriptions.get(f.id) !== pending) abandoned--;
          if (subscriptions.get(f.id) !== pending || socket.readyState !== socket.OPEN) {
            // Unsubscribed or closed while it was being set up.
            sub.stop();
            return;
          }
          subscriptions.set(f.id, sub);
          send({ op: 'subscribed', id: f.id, after: sub.after });
          void (async () => {
            // The same bytes as JSON.stringify({ op, sub, event }), with the event's JSON built
            // once for every socket it goes to.
            const head = `{"op":"event","sub":${JSON.stringify(f.id)},"event":`;
            for await (const event of sub) {
              if (!sendText(`${head}${eventJson(event)}}`)) {
                sub.stop();
                return;
              }
            }
          })().catch((err) => {
            log.warn({ err, sub: f.id }, 'subscription ended');
            if (subscriptions.get(f.id) === sub) {
              subscriptions.delete(f.id);
              send({ op: 'error', id: f.id, error: errorBody(err) });
            }
          });
        }

        socket.on('message', (raw) => {
          let parsed: z.infer<typeof frame>;
          let json: unknown;
          try {
            json = JSON.parse(raw.toString());
            const r = frame.safeParse(json);
            if (!r.success) {
              throw new LightdomError('VALIDATION_FAILED', 'Invalid frame', {
                issues: r.error.issues.map((i) => ({ field: i.path.join('.') || '(frame)', message: i.message })),
              });
            }
            parsed = r.data;
          } catch (err) {
            const e = err instanceof SyntaxError ? new LightdomError('VALIDATION_FAILED', 'Frames must be JSON') : err;
            send({ op: 'error', ...frameIdOf(json), error: errorBody(e) });
            return;
          }
          const f = parsed;
          switch (f.op) {
            case 'ping':
              send({ op: 'pong' });
              return;
            case 'unsubscribe': {
              const sub = subscriptions.get(f.id);
              if (sub && settingUp.has(sub)) abandoned++;
              sub?.stop();
              subscriptions.delete(f.id);
              send({ op: 'unsubscribed', id: f.id });
              return;
            }
            case 'subscribe':
              subscribe(f).catch((err) => send({ op: 'error', id: f.id, error: errorBody(err) }));
              return;
            case 'command':
              deps.app
                .submit(identity, f.command, {
                  ...requestContext(req),
                  causationId: `${req.id}:${f.id}`,
                  edge: 'websocket',
                })
                .then(
                  (result) => send({ op: 'ack', id: f.id, result }),
                  (err) => send({ op: 'error', id: f.id, error: errorBody(err) }),
                );
              return;
          }
        });
        // Pings and the idle cut; a socket holding a subscription is busy, not idle.
        if (guards) keepAlive(socket, guards, () => subscriptions.size > 0);
        socket.on('close', () => {
          for (const sub of subscriptions.values()) sub.stop();
          subscriptions.clear();
        });
      }
    });
  };
