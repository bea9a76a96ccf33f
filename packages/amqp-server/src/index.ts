export type { AmqpBounds } from './bounds.js';
export { type Binding, Broker, type Exchange, exchangeTypes, REPLY_TO_QUEUE } from './broker.js';
export {
  type Args,
  type BasicProperties,
  decodeMethod,
  decodeProperties,
  encodeMethod,
  encodeProperties,
  type FieldTable,
  type FieldValue,
  type Method,
} from './codec.js';
export {
  AmqpError,
  accessRefused,
  channelError,
  commandInvalid,
  frameError,
  internalError,
  notAllowed,
  notFound,
  notImplemented,
  preconditionFailed,
  resourceError,
  resourceLocked,
  syntaxError,
  unexpectedFrame,
} from './errors.js';
export {
  contentFrames,
  type Frame,
  FrameParser,
  frame,
  heartbeatFrame,
  methodFrame,
  PROTOCOL_HEADER,
} from './frames.js';
export type { AmqpMetrics } from './metrics.js';
export {
  type AmqpAuthenticator,
  type AmqpPrincipal,
  type ExchangeFeed,
  type ExchangePlugin,
  type PluginBinding,
  type PluginReply,
  type PublishedMessage,
  plainCredentials,
} from './plugins.js';
export {
  type AmqpServer,
  type AmqpServerDeps,
  type AmqpServerOptions,
  createAmqpServer,
  REFUSED_HANDSHAKES_MAX,
} from './server.js';
export { FRAME_MIN_SIZE, FrameType, type MethodName, methodSpecs, ReplyCode } from './spec.js';
export {
  type AmqpMessage,
  type AmqpStore,
  type AmqpStoreOptions,
  createAmqpStore,
  type ExchangeDefinition,
  type QueueDefinition,
} from './store.js';
export { topicMatches } from './topic.js';
