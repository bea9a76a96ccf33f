export {
  type FakeOllama,
  type FakeOllamaFault,
  type FakeOllamaOptions,
  type FakeOllamaPrompt,
  type FakeOllamaRequest,
  startFakeOllama,
} from './fakeOllama.js';
export { createNatsTestEnv, type NatsTestEnv } from './natsEnv.js';
export { createPgTestEnv, type PgTestEnv } from './pgEnv.js';
export { type PrivateNats, startPrivateNats } from './privateNats.js';
export { repoRoot, type ServiceProcess, sourceNodeFlags, spawnService, spawnTypeScript } from './processes.js';
export { createRedisTestEnv, type RedisTestEnv } from './redisEnv.js';
export { assertServersReachable, testServers, uniqueId } from './servers.js';
