export type { AmqpServer } from '@lightdom/amqp-server';
export { amqpBoundsOf, defaultAmqpBounds } from './amqp/bounds.js';
export {
  COMMANDS_EXCHANGE,
  commandsExchange,
  EVENTS_EXCHANGE,
  errorReply,
  eventMessage,
  eventRoutingKey,
  eventsExchange,
} from './amqp/lightdom.js';
export { amqpReplyCodeOf } from './amqp/replyCodes.js';
export { type AmqpServerDeps, createAmqpServer, type LightdomAmqpOptions } from './amqp/server.js';
export { type AppDeps, type AppOptions, appOptionsFrom, buildApp, type LightdomApplication } from './app.js';
export {
  type CommandApiConfig,
  commandApiConfigSchema,
  commandApiDefaults,
  type LoadedCommandApiConfig,
  loadCommandApiConfig,
  noTokenProblem,
} from './config.js';
export { createFeedHub, type FeedHubDeps } from './feed/hub.js';
export { feedHubDefaults, feedHubOptions } from './feed/options.js';
export type {
  FeedFilter,
  FeedHub,
  FeedHubOptions,
  FeedHubStats,
  FeedStart,
  FeedSubscription,
} from './feed/types.js';
export { type GrpcBounds, grpcBounds, grpcBoundsDefaults } from './grpc/bounds.js';
export {
  createLightdomClients,
  type LightdomClientOptions,
  type LightdomClients,
  type ServiceClient,
} from './grpc/client.js';
export { type CallContext, callContext } from './grpc/context.js';
export { lightdomProtoDir, lightdomProtoFiles, loadGrpcPackage, protoLoaderOptions } from './grpc/protos.js';
export {
  createGrpcServer,
  type GrpcServer,
  type GrpcServerDeps,
  type GrpcServerOptions,
  lightdomServices,
} from './grpc/server.js';
export { errorMetadataKeys, grpcStatusOf, lightdomErrorOf, toServiceError } from './grpc/status.js';
export { asyncApiDocument } from './http/asyncapi.js';
export { WS_UNAUTHORIZED_CLOSE_CODE } from './http/liveFeed.js';
export { problemPage, problemTypeOf } from './http/problemPages.js';
export { httpStatusOf, instanceOf, sendProblem, toLightdomError } from './http/problems.js';
export { WS_TIMEOUT_CLOSE_CODE, type WsSocketBounds } from './http/wsGuards.js';
export {
  type CampaignQueries,
  type CampaignView,
  createCampaignQueries,
  toCampaignView,
} from './readModel/campaignQueries.js';
export { createPositionWaiter, type PositionWaiter } from './readModel/positionWaiter.js';
