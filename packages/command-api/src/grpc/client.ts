import {
  type ChannelOptions,
  credentials,
  type GrpcObject,
  InterceptingCall,
  type Interceptor,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadGrpcPackage } from './protos.js';

/** A dynamic client: one method per RPC, named as in the proto (`Submit`, `Subscribe`, …). */
export type ServiceClient = InstanceType<ServiceClientConstructor>;

export interface LightdomClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
  channelOptions?: ChannelOptions;
}

/** Plaintext clients of every service the server offers, sharing one channel per client. */
export interface LightdomClients {
  commands: ServiceClient;
  events: ServiceClient;
  queries: ServiceClient;
  workflows: ServiceClient;
  health: ServiceClient;
  close(): void;
}

const bearer =
  (token: string): Interceptor =>
  (options, next) =>
    new InterceptingCall(next(options), {
      start(metadata, listener, start) {
        metadata.set('authorization', `Bearer ${token}`);
        start(metadata, listener);
      },
    });

/**
 * Clients built from the same protos and loader options as the server (camelCase fields,
 * 64-bit integers as numbers). Failed calls carry the domain error: see `lightdomErrorOf`.
 *
 * @example
 * const c = createLightdomClients('127.0.0.1:50051', { token: 'dev-token' });
 * c.commands.Submit({ type: 'CreateCampaign', data: JSON.stringify({ name: 'Spring', budget }) }, (err, res) => …);
 */
export function createLightdomClients(address: string, options: LightdomClientOptions = {}): LightdomClients {
  const pkg = loadPackageDefinition(loadGrpcPackage());
  const ctor = (name: string) =>
    name.split('.').reduce<unknown>((o, part) => (o as GrpcObject)[part], pkg) as ServiceClientConstructor;
  const make = (name: string) =>
    new (ctor(name))(address, credentials.createInsecure(), {
      ...options.channelOptions,
      ...(options.token ? { interceptors: [bearer(options.token)] } : {}),
    });
  const clients = {
    commands: make('lightdom.v1.CommandService'),
    events: make('lightdom.v1.EventService'),
    queries: make('lightdom.v1.QueryService'),
    workflows: make('lightdom.v1.WorkflowService'),
    health: make('grpc.health.v1.Health'),
  };
  return {
    ...clients,
    close() {
      for (const c of Object.values(clients)) c.close();
    },
  };
}
