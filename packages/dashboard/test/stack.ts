import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { migrate } from '@lightdom/projector';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type FakeOllama,
  type ServiceProcess,
  spawnService,
  startFakeOllama,
  testServers,
} from '@lightdom/testkit';
import { type DashboardServer, startDashboardServer } from '../serve.js';

export const packageDir = fileURLToPath(new URL('../', import.meta.url));
export const chromiumPath = '/usr/bin/chromium';

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Builds the dashboard once per spec file (vite build, a few seconds), into `outDir`
 * (default dist/). Spec files that may run side by side build into directories of their own.
 */
export function buildDashboard(outDir?: string): void {
  // The dashboard's own vite (npm may nest it under the package when the root holds another).
  const own = `${packageDir}node_modules/vite/bin/vite.js`;
  const vite = fs.existsSync(own)
    ? own
    : fileURLToPath(new URL('../../../node_modules/vite/bin/vite.js', import.meta.url));
  const out = outDir ? ['--outDir', outDir, '--emptyOutDir'] : [];
  // Vite allows one build of a project at a time and refuses a second ("Found another Vite
  // build process"): spec files run side by side take turns, each into its own outDir.
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn', ...out], { cwd: packageDir, stdio: 'pipe' });
      return;
    } catch (err) {
      const text = `${(err as { stderr?: Buffer }).stderr ?? ''}${(err as Error).message}`;
      if (!/Found another Vite build process/.test(text) || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
}

export interface DashboardStack {
  dashboard: DashboardServer;
  apiUrl: string;
  /** Role admin. */
  token: string;
  /** Role reader: may read and subscribe, no command. */
  readerToken: string;
  ollama: FakeOllama;
  nats: Awaited<ReturnType<typeof createNatsTestEnv>>;
  /** Stops the command-api process (the others keep running). */
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real services as processes — command-api, projector, executor, ai-worker against a
 * fake Ollama — on a stream, schema and key prefix of their own, and the built dashboard
 * in front of the API.
 */
export async function startDashboardStack(label: string, options: { distDir?: string } = {}): Promise<DashboardStack> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (.ci/run installs it)`);
  }
  const [nats, pgEnv, redis] = await Promise.all([
    createNatsTestEnv(label),
    createPgTestEnv(label),
    createRedisTestEnv(label),
  ]);
  await migrate(pgEnv.pool, pgEnv.schema);
  const ollama = await startFakeOllama({
    chunkDelayMs: 60,
    reply: ({ prompt }) =>
      `<think>pondering ${prompt}</think>\n\nHere is the answer about ${prompt}. ${'More words. '.repeat(15)}`,
  });
  const token = `dash-${nats.id}`;
  const serviceToken = `svc-${nats.id}`;
  const readerToken = `read-${nats.id}`;
  const [apiPort, dashPort] = await Promise.all([freePort(), freePort()]);
  const dashboardOrigin = `http://localhost:${dashPort}`;
  const common = {
    NATS_URL: testServers.natsUrl,
    EVENTS_STREAM: nats.stream,
    EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
    DATABASE_URL: testServers.databaseUrl,
    DB_SCHEMA: pgEnv.schema,
    REDIS_URL: testServers.redisUrl,
    REDIS_KEY_PREFIX: redis.prefix,
    REDIS_CHANNEL_PREFIX: redis.prefix,
    IDEMPOTENCY_BUCKET: `${nats.kvBucket}_IDEM`,
    SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
    HOST: '127.0.0.1',
    // token:actor:role; the older token:actor parser reads the same entry as actor `e2e`.
    API_TOKENS: `${token}:e2e:admin,${serviceToken}:services:service,${readerToken}:rita:reader`,
    SERVICE_TOKEN: serviceToken,
    LOG_LEVEL: 'warn',
  };
  const apiEnv = {
    ...common,
    PORT: String(apiPort),
    GRPC_PORT: '0',
    AMQP_PORT: '0',
    AMQP_STREAM: `${nats.stream}_AMQP`,
    AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
    AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_TOPO`,
    WS_ALLOWED_ORIGINS: `${dashboardOrigin},http://127.0.0.1:${dashPort}`,
    LOG_LEVEL: 'info',
  };
  const services: ServiceProcess[] = [];
  let api: ServiceProcess | undefined;
  const startApi = async () => {
    api = spawnService('command-api', apiEnv);
    await api.waitForLine(/command-api listening/, 30_000);
  };
  await startApi();
  const projector = spawnService('projector', {
    ...common,
    PORT: '0',
    PROJECTOR_DURABLE: `p_${nats.id}`,
    LOG_LEVEL: 'info',
  });
  const executor = spawnService('executor', {
    ...common,
    PORT: '0',
    EXECUTOR_DURABLE: `x_${nats.id}`,
    EXECUTOR_AI_DURABLE: `xa_${nats.id}`,
    LOG_LEVEL: 'info',
  });
  const worker = spawnService('ai-worker', {
    ...common,
    PORT: '0',
    OLLAMA_URL: ollama.url,
    AI_WORKER_DURABLE: `w_${nats.id}`,
    AI_PROGRESS_INTERVAL_MS: '100',
    LOG_LEVEL: 'info',
  });
  services.push(projector, executor, worker);
  await Promise.all([
    projector.waitForLine(/projector ready/, 30_000),
    executor.waitForLine(/executor listening/, 30_000),
    worker.waitForLine(/ai-worker listening/, 30_000),
  ]);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const dashboard = await startDashboardServer({
    port: dashPort,
    apiUrl,
    distDir: options.distDir ?? `${packageDir}dist`,
  });
  return {
    dashboard,
    apiUrl,
    token,
    readerToken,
    ollama,
    nats,
    stopApi: async () => {
      await api?.kill('SIGTERM');
    },
    startApi,
    async stop() {
      await dashboard.close();
      await Promise.all([api?.kill(), ...services.map((s) => s.kill())]);
      await ollama.close();
      await Promise.all([nats.cleanup(), pgEnv.cleanup(), redis.cleanup()]);
    },
  };
}
