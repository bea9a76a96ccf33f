// Generated from amqp-rabbitmq-0.9.1.json (/work/shared/specs). That file is
// "Copyright (C) 2008-2020 VMware, Inc. or its affiliates." and covered by the MIT license.

/** Wire type of a method argument. */
export type ArgType = 'bit' | 'octet' | 'short' | 'long' | 'longlong' | 'shortstr' | 'longstr' | 'table' | 'timestamp';

export interface MethodSpec {
  name: string;
  classId: number;
  methodId: number;
  args: readonly (readonly [name: string, type: ArgType])[];
}

/** Every method of AMQP 0-9-1 with RabbitMQ's extensions, keyed `class.method`. */
export const methodSpecs = {
  'connection.start': {
    name: 'connection.start',
    classId: 10,
    methodId: 10,
    args: [
      ['versionMajor', 'octet'],
      ['versionMinor', 'octet'],
      ['serverProperties', 'table'],
      ['mechanisms', 'longstr'],
      ['locales', 'longstr'],
    ],
  },
  'connection.startOk': {
    name: 'connection.startOk',
    classId: 10,
    methodId: 11,
    args: [
      ['clientProperties', 'table'],
      ['mechanism', 'shortstr'],
      ['response', 'longstr'],
      ['locale', 'shortstr'],
    ],
  },
  'connection.secure': { name: 'connection.secure', classId: 10, methodId: 20, args: [['challenge', 'longstr']] },
  'connection.secureOk': { name: 'connection.secureOk', classId: 10, methodId: 21, args: [['response', 'longstr']] },
  'connection.tune': {
    name: 'connection.tune',
    classId: 10,
    methodId: 30,
    args: [
      ['channelMax', 'short'],
      ['frameMax', 'long'],
      ['heartbeat', 'short'],
    ],
  },
  'connection.tuneOk': {
    name: 'connection.tuneOk',
    classId: 10,
    methodId: 31,
    args: [
      ['channelMax', 'short'],
      ['frameMax', 'long'],
      ['heartbeat', 'short'],
    ],
  },
  'connection.open': {
    name: 'connection.open',
    classId: 10,
    methodId: 40,
    args: [
      ['virtualHost', 'shortstr'],
      ['capabilities', 'shortstr'],
      ['insist', 'bit'],
    ],
  },
  'connection.openOk': { name: 'connection.openOk', classId: 10, methodId: 41, args: [['knownHosts', 'shortstr']] },
  'connection.close': {
    name: 'connection.close',
    classId: 10,
    methodId: 50,
    args: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['classId', 'short'],
      ['methodId', 'short'],
    ],
  },
  'connection.closeOk': { name: 'connection.closeOk', classId: 10, methodId: 51, args: [] },
  'connection.blocked': { name: 'connection.blocked', classId: 10, methodId: 60, args: [['reason', 'shortstr']] },
  'connection.unblocked': { name: 'connection.unblocked', classId: 10, methodId: 61, args: [] },
  'connection.updateSecret': {
    name: 'connection.updateSecret',
    classId: 10,
    methodId: 70,
    args: [
      ['newSecret', 'longstr'],
      ['reason', 'shortstr'],
    ],
  },
  'connection.updateSecretOk': { name: 'connection.updateSecretOk', classId: 10, methodId: 71, args: [] },
  'channel.open': { name: 'channel.open', classId: 20, methodId: 10, args: [['outOfBand', 'shortstr']] },
  'channel.openOk': { name: 'channel.openOk', classId: 20, methodId: 11, args: [['channelId', 'longstr']] },
  'channel.flow': { name: 'channel.flow', classId: 20, methodId: 20, args: [['active', 'bit']] },
  'channel.flowOk': { name: 'channel.flowOk', classId: 20, methodId: 21, args: [['active', 'bit']] },
  'channel.close': {
    name: 'channel.close',
    classId: 20,
    methodId: 40,
    args: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['classId', 'short'],
      ['methodId', 'short'],
    ],
  },
  'channel.closeOk': { name: 'channel.closeOk', classId: 20, methodId: 41, args: [] },
  'access.request': {
    name: 'access.request',
    classId: 30,
    methodId: 10,
    args: [
      ['realm', 'shortstr'],
      ['exclusive', 'bit'],
      ['passive', 'bit'],
      ['active', 'bit'],
      ['write', 'bit'],
      ['read', 'bit'],
    ],
  },
  'access.requestOk': { name: 'access.requestOk', classId: 30, methodId: 11, args: [['ticket', 'short']] },
  'exchange.declare': {
    name: 'exchange.declare',
    classId: 40,
    methodId: 10,
    args: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['type', 'shortstr'],
      ['passive', 'bit'],
      ['durable', 'bit'],
      ['autoDelete', 'bit'],
      ['internal', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.declareOk': { name: 'exchange.declareOk', classId: 40, methodId: 11, args: [] },
  'exchange.delete': {
    name: 'exchange.delete',
    classId: 40,
    methodId: 20,
    args: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['ifUnused', 'bit'],
      ['nowait', 'bit'],
    ],
  },
  'exchange.deleteOk': { name: 'exchange.deleteOk', classId: 40, methodId: 21, args: [] },
  'exchange.bind': {
    name: 'exchange.bind',
    classId: 40,
    methodId: 30,
    args: [
      ['ticket', 'short'],
      ['destination', 'shortstr'],
      ['source', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.bindOk': { name: 'exchange.bindOk', classId: 40, methodId: 31, args: [] },
  'exchange.unbind': {
    name: 'exchange.unbind',
    classId: 40,
    methodId: 40,
    args: [
      ['ticket', 'short'],
      ['destination', 'shortstr'],
      ['source', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'exchange.unbindOk': { name: 'exchange.unbindOk', classId: 40, methodId: 51, args: [] },
  'queue.declare': {
    name: 'queue.declare',
    classId: 50,
    methodId: 10,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['passive', 'bit'],
      ['durable', 'bit'],
      ['exclusive', 'bit'],
      ['autoDelete', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'queue.declareOk': {
    name: 'queue.declareOk',
    classId: 50,
    methodId: 11,
    args: [
      ['queue', 'shortstr'],
      ['messageCount', 'long'],
      ['consumerCount', 'long'],
    ],
  },
  'queue.bind': {
    name: 'queue.bind',
    classId: 50,
    methodId: 20,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'queue.bindOk': { name: 'queue.bindOk', classId: 50, methodId: 21, args: [] },
  'queue.purge': {
    name: 'queue.purge',
    classId: 50,
    methodId: 30,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['nowait', 'bit'],
    ],
  },
  'queue.purgeOk': { name: 'queue.purgeOk', classId: 50, methodId: 31, args: [['messageCount', 'long']] },
  'queue.delete': {
    name: 'queue.delete',
    classId: 50,
    methodId: 40,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['ifUnused', 'bit'],
      ['ifEmpty', 'bit'],
      ['nowait', 'bit'],
    ],
  },
  'queue.deleteOk': { name: 'queue.deleteOk', classId: 50, methodId: 41, args: [['messageCount', 'long']] },
  'queue.unbind': {
    name: 'queue.unbind',
    classId: 50,
    methodId: 50,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['arguments', 'table'],
    ],
  },
  'queue.unbindOk': { name: 'queue.unbindOk', classId: 50, methodId: 51, args: [] },
  'basic.qos': {
    name: 'basic.qos',
    classId: 60,
    methodId: 10,
    args: [
      ['prefetchSize', 'long'],
      ['prefetchCount', 'short'],
      ['global', 'bit'],
    ],
  },
  'basic.qosOk': { name: 'basic.qosOk', classId: 60, methodId: 11, args: [] },
  'basic.consume': {
    name: 'basic.consume',
    classId: 60,
    methodId: 20,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['consumerTag', 'shortstr'],
      ['noLocal', 'bit'],
      ['noAck', 'bit'],
      ['exclusive', 'bit'],
      ['nowait', 'bit'],
      ['arguments', 'table'],
    ],
  },
  'basic.consumeOk': { name: 'basic.consumeOk', classId: 60, methodId: 21, args: [['consumerTag', 'shortstr']] },
  'basic.cancel': {
    name: 'basic.cancel',
    classId: 60,
    methodId: 30,
    args: [
      ['consumerTag', 'shortstr'],
      ['nowait', 'bit'],
    ],
  },
  'basic.cancelOk': { name: 'basic.cancelOk', classId: 60, methodId: 31, args: [['consumerTag', 'shortstr']] },
  'basic.publish': {
    name: 'basic.publish',
    classId: 60,
    methodId: 40,
    args: [
      ['ticket', 'short'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['mandatory', 'bit'],
      ['immediate', 'bit'],
    ],
  },
  'basic.return': {
    name: 'basic.return',
    classId: 60,
    methodId: 50,
    args: [
      ['replyCode', 'short'],
      ['replyText', 'shortstr'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
    ],
  },
  'basic.deliver': {
    name: 'basic.deliver',
    classId: 60,
    methodId: 60,
    args: [
      ['consumerTag', 'shortstr'],
      ['deliveryTag', 'longlong'],
      ['redelivered', 'bit'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
    ],
  },
  'basic.get': {
    name: 'basic.get',
    classId: 60,
    methodId: 70,
    args: [
      ['ticket', 'short'],
      ['queue', 'shortstr'],
      ['noAck', 'bit'],
    ],
  },
  'basic.getOk': {
    name: 'basic.getOk',
    classId: 60,
    methodId: 71,
    args: [
      ['deliveryTag', 'longlong'],
      ['redelivered', 'bit'],
      ['exchange', 'shortstr'],
      ['routingKey', 'shortstr'],
      ['messageCount', 'long'],
    ],
  },
  'basic.getEmpty': { name: 'basic.getEmpty', classId: 60, methodId: 72, args: [['clusterId', 'shortstr']] },
  'basic.ack': {
    name: 'basic.ack',
    classId: 60,
    methodId: 80,
    args: [
      ['deliveryTag', 'longlong'],
      ['multiple', 'bit'],
    ],
  },
  'basic.reject': {
    name: 'basic.reject',
    classId: 60,
    methodId: 90,
    args: [
      ['deliveryTag', 'longlong'],
      ['requeue', 'bit'],
    ],
  },
  'basic.recoverAsync': { name: 'basic.recoverAsync', classId: 60, methodId: 100, args: [['requeue', 'bit']] },
  'basic.recover': { name: 'basic.recover', classId: 60, methodId: 110, args: [['requeue', 'bit']] },
  'basic.recoverOk': { name: 'basic.recoverOk', classId: 60, methodId: 111, args: [] },
  'basic.nack': {
    name: 'basic.nack',
    classId: 60,
    methodId: 120,
    args: [
      ['deliveryTag', 'longlong'],
      ['multiple', 'bit'],
      ['requeue', 'bit'],
    ],
  },
  'tx.select': { name: 'tx.select', classId: 90, methodId: 10, args: [] },
  'tx.selectOk': { name: 'tx.selectOk', classId: 90, methodId: 11, args: [] },
  'tx.commit': { name: 'tx.commit', classId: 90, methodId: 20, args: [] },
  'tx.commitOk': { name: 'tx.commitOk', classId: 90, methodId: 21, args: [] },
  'tx.rollback': { name: 'tx.rollback', classId: 90, methodId: 30, args: [] },
  'tx.rollbackOk': { name: 'tx.rollbackOk', classId: 90, methodId: 31, args: [] },
  'confirm.select': { name: 'confirm.select', classId: 85, methodId: 10, args: [['nowait', 'bit']] },
  'confirm.selectOk': { name: 'confirm.selectOk', classId: 85, methodId: 11, args: [] },
} as const satisfies Record<string, MethodSpec>;

export type MethodName = keyof typeof methodSpecs;

/** Basic content properties, in flag order (bit 15 first). */
export const basicProperties = [
  ['contentType', 'shortstr'],
  ['contentEncoding', 'shortstr'],
  ['headers', 'table'],
  ['deliveryMode', 'octet'],
  ['priority', 'octet'],
  ['correlationId', 'shortstr'],
  ['replyTo', 'shortstr'],
  ['expiration', 'shortstr'],
  ['messageId', 'shortstr'],
  ['timestamp', 'timestamp'],
  ['type', 'shortstr'],
  ['userId', 'shortstr'],
  ['appId', 'shortstr'],
  ['clusterId', 'shortstr'],
] as const;

export const ReplyCode = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export const FrameType = { METHOD: 1, HEADER: 2, BODY: 3, HEARTBEAT: 8 } as const;
export const FRAME_END = 206;
export const FRAME_MIN_SIZE = 4096;
