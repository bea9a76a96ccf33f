import { commandCatalog, eventVersions } from '@lightdom/domain';

/** Which aggregate each event type belongs to, from the catalogue's command → aggregate map. */
const aggregateTypes = [...new Set(Object.values(commandCatalog).map((c) => c.aggregateType))];

/** One recorded event as every channel delivers it (see RecordedEvent in @lightdom/domain). */
const recordedEvent = (type: string, schemaVersion: number) => ({
  type: 'object',
  required: [
    'position',
    'commitId',
    'aggregateType',
    'aggregateId',
    'version',
    'index',
    'id',
    'type',
    'schemaVersion',
    'data',
    'timestamp',
    'correlationId',
    'causationId',
    'actor',
  ],
  properties: {
    position: { type: 'integer', description: "The commit's log position (resume after it)" },
    commitId: { type: 'string' },
    aggregateType: { type: 'string', enum: aggregateTypes },
    aggregateId: { type: 'string' },
    version: { type: 'integer', description: "The aggregate's version after this event" },
    index: { type: 'integer', description: 'Index of the event in its commit (resume with afterIndex)' },
    id: { type: 'string' },
    type: { type: 'string', const: type },
    schemaVersion: { type: 'integer', const: schemaVersion },
    data: { type: 'object', description: `The ${type} payload (docs/events.md)` },
    timestamp: { type: 'string', format: 'date-time' },
    correlationId: { type: 'string' },
    causationId: { type: 'string' },
    actor: { type: 'string', description: 'Who sent the command (for a run step: who requested the run)' },
    via: { type: 'string', description: "The service that sent it on `actor`'s behalf" },
  },
});

const wsFrame = (op: string, description: string, properties: Record<string, unknown>, required: string[] = []) => ({
  name: op,
  title: `${op} frame`,
  summary: description,
  payload: {
    type: 'object',
    required: ['op', ...required],
    properties: { op: { type: 'string', const: op }, ...properties },
  },
});

/**
 * The AsyncAPI 3 document of LightDom's live side: every event type of the catalogue as a
 * message, and the channels that carry them — `/ws` (WebSocket frames), the AMQP
 * `lightdom.events` topic exchange (routing key `<aggregateType>.<EventType>`) and the
 * Redis Pub/Sub channels `<aggregateType>:events` the projector publishes.
 */
export function asyncApiDocument() {
  const eventTypes = Object.keys(eventVersions).sort();
  const eventMessages = Object.fromEntries(
    eventTypes.map((t) => [
      t,
      {
        name: t,
        title: t,
        contentType: 'application/json',
        payload: recordedEvent(t, eventVersions[t] ?? 1),
      },
    ]),
  );
  const eventRefs = Object.fromEntries(eventTypes.map((t) => [t, { $ref: `#/components/messages/${t}` }]));
  const wsMessages = {
    auth: {
      name: 'auth',
      title: 'auth frame (browsers)',
      summary: 'The first frame of a socket opened without an Authorization header',
      payload: {
        type: 'object',
        required: ['type', 'token'],
        properties: { type: { type: 'string', const: 'auth' }, token: { type: 'string' } },
      },
    },
    authenticated: {
      name: 'authenticated',
      title: 'authenticated frame',
      payload: {
        type: 'object',
        required: ['type', 'actor', 'role'],
        properties: {
          type: { type: 'string', const: 'authenticated' },
          actor: { type: 'string' },
          role: { type: 'string', enum: ['reader', 'operator', 'service', 'admin'] },
        },
      },
    },
    subscribe: wsFrame(
      'subscribe',
      'Live events after a position, history first, no gap and no duplicate',
      {
        id: { type: 'string' },
        after: { type: 'integer' },
        afterIndex: { type: 'integer' },
        filter: {
          type: 'object',
          properties: {
            aggregateType: { type: 'string' },
            aggregateId: { type: 'string' },
            types: { type: 'array', items: { type: 'string', enum: eventTypes } },
          },
        },
      },
      ['id'],
    ),
    unsubscribe: wsFrame('unsubscribe', 'Ends a subscription', { id: { type: 'string' } }, ['id']),
    command: wsFrame(
      'command',
      'A command envelope, as POST /api/commands takes it',
      { id: { type: 'string' }, command: { type: 'object' } },
      ['id', 'command'],
    ),
    ping: wsFrame('ping', 'Answered with pong', {}),
    subscribed: wsFrame('subscribed', 'The subscription is live', {
      id: { type: 'string' },
      after: { type: 'integer' },
    }),
    event: wsFrame(
      'event',
      'One event of a subscription',
      { sub: { type: 'string' }, event: { oneOf: eventTypes.map((t) => eventMessages[t]?.payload) } },
      ['sub', 'event'],
    ),
    ack: wsFrame('ack', "A command's result", { id: { type: 'string' }, result: { type: 'object' } }, ['id', 'result']),
    error: wsFrame('error', 'A refused frame or command (code as in the problem catalogue)', {
      id: { type: 'string' },
      error: {
        type: 'object',
        properties: { code: { type: 'string' }, message: { type: 'string' }, retryable: { type: 'boolean' } },
      },
    }),
    unsubscribed: wsFrame('unsubscribed', 'The subscription ended', { id: { type: 'string' } }),
    pong: wsFrame('pong', 'The answer to ping', {}),
  };
  const ref = (name: string) => ({ $ref: `#/channels/ws/messages/${name}` });
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'LightDom live events',
      version: '0.1.0',
      description:
        'The event catalogue and the channels that carry it. Credentials: a bearer token (WebSocket header or first auth frame), the token as the AMQP PLAIN password.',
    },
    defaultContentType: 'application/json',
    servers: {
      websocket: { host: 'localhost:3001', protocol: 'ws', pathname: '/ws', description: 'The command-api (PORT)' },
      amqp: {
        host: 'localhost:5673',
        protocol: 'amqp',
        protocolVersion: '0.9.1',
        description: 'The command-api (AMQP_PORT)',
      },
      redis: { host: 'localhost:6379', protocol: 'redis', description: "The projector's Pub/Sub" },
    },
    channels: {
      ws: {
        address: '/ws',
        servers: [{ $ref: '#/servers/websocket' }],
        messages: wsMessages,
      },
      amqpEvents: {
        address: 'lightdom.events',
        title: 'AMQP topic exchange lightdom.events',
        description: 'Routing key `<aggregateType>.<EventType>`; bind a queue with a pattern such as `campaign.*`.',
        servers: [{ $ref: '#/servers/amqp' }],
        messages: eventRefs,
      },
      redisEvents: {
        address: '{aggregateType}:events',
        title: 'Redis Pub/Sub, one channel per aggregate type (REDIS_CHANNEL_PREFIX first)',
        parameters: { aggregateType: { enum: aggregateTypes } },
        servers: [{ $ref: '#/servers/redis' }],
        messages: eventRefs,
      },
    },
    operations: {
      wsSend: {
        action: 'receive',
        channel: { $ref: '#/channels/ws' },
        summary: 'What a client sends on /ws',
        messages: ['auth', 'subscribe', 'unsubscribe', 'command', 'ping'].map(ref),
      },
      wsReceive: {
        action: 'send',
        channel: { $ref: '#/channels/ws' },
        summary: 'What the server sends on /ws',
        messages: ['authenticated', 'subscribed', 'event', 'ack', 'error', 'unsubscribed', 'pong'].map(ref),
      },
      amqpEvents: {
        action: 'send',
        channel: { $ref: '#/channels/amqpEvents' },
        messages: eventTypes.map((t) => ({ $ref: `#/channels/amqpEvents/messages/${t}` })),
      },
      redisEvents: {
        action: 'send',
        channel: { $ref: '#/channels/redisEvents' },
        messages: eventTypes.map((t) => ({ $ref: `#/channels/redisEvents/messages/${t}` })),
      },
    },
    components: { messages: eventMessages },
  };
}
