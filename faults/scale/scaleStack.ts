import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, defaultStreamOptions, ensureEventStream } from '@lightdom/eventstore';
import { type FakeOllama, startFakeOllama, uniqueId } from '@lightdom/testkit';
import { say } from '../lib/log.js';
import { type PrivatePostgres, startPrivatePostgres } from '../lib/privatePostgres.js';
import { type PrivateRedis, startPrivateRedis } from '../lib/privateRedis.js';
import { type StackNames, stackEnv } from '../lib/services.js';
import { createSupervisor, type SupervisedService, type Supervisor } from '../lib/supervisor.js';
import { type NatsCluster, startNatsCluster } from './natsCluster.js';
import { type RunningNginx, startNginx } from './nginx.js';

/** Two of each stateless service; the projector twice too, one active and one standby. */
export const instances = { 'command-api': 2, projector: 2, executor: 2, 'ai-worker': 2 } as const;
export type ScaledService = keyof typeof instances;

export interface ScaleStack {
  id: string;
  names: StackNames;
  cluster: NatsCluster;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  ollama: FakeOllama;
  supervisor: Supervisor;
  nginx: RunningNginx;
  /** Every instance, e.g. `command-api-1`, `command-api-2`, `projector-1`, … */
  services: SupervisedService[];
  of(service: ScaledService): SupervisedService[];
  logDir: string;
  destroy(): Promise<void>;
}

/**
 * The scale-out on one machine: a 3-node JetStream cluster holding the event stream at
 * 3 replicas, private PostgreSQL and Redis, a fake Ollama, two instances of every service
 * (the projectors share one lease, so one projects and one stands by) and nginx in front
 * of both command-api instances. `destroy` undoes what was started, also half-way.
 */
export async function startScaleStack(opts: { restartDelayMs: number; batchSize: number }): Promise<ScaleStack> {
  const id = uniqueId('scale');
  const upper = id.toUpperCase();
  const names: StackNames = {
    stream: `SCALE_${upper}`,
    subjectPrefix: `s_${id}`,
    schema: `s_${id}`,
    redisPrefix: `s:${id}:`,
    idempotencyBucket: `SIDEM_${upper}`,
    snapshotBucket: `SSNAP_${upper}`,
    projectorDurable: `projector-${id}`,
    executorDurable: `executor-${id}`,
    aiWorkerDurable: `ai-worker-${id}`,
  };
  const logDir = mkdtempSync(join(tmpdir(), 'lightdom-scale-logs-'));
  const undo: (() => Promise<void>)[] = [];
  const destroy = async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  try {
    const [cluster, postgres, redis, ollama] = await Promise.all([
      startNatsCluster({ size: 3, logDir }),
      startPrivatePostgres(),
      startPrivateRedis(),
      startFakeOllama(),
    ]);
    undo.push(cluster.destroy, postgres.destroy, redis.destroy, ollama.close);
    say(
      `servers: NATS cluster ${cluster.url}, PostgreSQL ${postgres.url}, Redis ${redis.url}, fake Ollama ${ollama.url}`,
    );
    await createReplicatedStream(cluster.url, names);

    const supervisor = createSupervisor({
      env: {
        ...stackEnv({
          natsUrl: cluster.url,
          databaseUrl: postgres.url,
          redisUrl: redis.url,
          ollamaUrl: ollama.url,
          names,
          batchSize: opts.batchSize,
          brokenProjector: false,
        }),
        // The executor's second durable (AI task outcomes for runs) is per run as well.
        EXECUTOR_AI_DURABLE: `executor-ai-${id}`,
        PROJECTOR_LEASE: 'on',
        PROJECTOR_LEASE_RETRY_MS: '250',
        // As deploy/k8s sets it; the stream already exists at 3 (above), which this matches.
        EVENTS_REPLICAS: '3',
        // Work a killed worker held comes back after its ack wait: short, to keep the run short.
        EXECUTOR_ACK_WAIT_MS: '5000',
        AI_WORKER_ACK_WAIT_MS: '5000',
        // The run sweep looks every 2 s at runs idle for 15 s: a delivery the cluster lost is
        // made good before the quiesce gives up, and shows in the executor logs.
        EXECUTOR_SWEEP_MS: '2000',
        EXECUTOR_SWEEP_IDLE_MS: '15000',
        // The same for the AI workers' task sweep.
        AI_WORKER_SWEEP_MS: '2000',
        AI_WORKER_SWEEP_IDLE_MS: '15000',
      },
      logDir,
      restartDelayMs: opts.restartDelayMs,
    });
    undo.push(supervisor.stopAll);
    const services: SupervisedService[] = [];
    for (const [service, count] of Object.entries(instances)) {
      for (let n = 1; n <= count; n++) services.push(await supervisor.add(service, { label: `${service}-${n}` }));
    }
    const of = (service: ScaledService) => services.filter((s) => s.name === service);
    await Promise.all(services.filter((s) => s.name !== 'projector').map((s) => s.waitReady(90_000)));
    await activeProjector(of('projector'), 60_000);

    const apis = of('command-api');
    const nginx = await startNginx(
      apis.map((a) => ({ httpPort: Number(a.ports.PORT), grpcPort: Number(a.ports.GRPC_PORT) })),
    );
    undo.push(nginx.stop);
    say(
      `instances: ${services.map((s) => `${s.label} (:${s.ports.PORT})`).join(', ')}; nginx ${nginx.url} and gRPC ${nginx.grpcAddress}; logs in ${logDir}`,
    );
    return { id, names, cluster, postgres, redis, ollama, supervisor, nginx, services, of, logDir, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

/** The services would create the stream at 1 replica; the cluster's stream has 3 from the start. */
async function createReplicatedStream(url: string, names: StackNames): Promise<void> {
  const nats = await connectNats({ url, name: 'scale-setup' });
  try {
    // A fresh cluster on a loaded machine may take longer than one request's time-out to
    // elect its metadata leader and place a 3-replica stream; asking again is safe
    // (ensureEventStream keeps what exists).
    for (let attempt = 1; ; attempt++) {
      try {
        const jsm = await nats.nc.jetstreamManager();
        await ensureEventStream(jsm, {
          ...defaultStreamOptions,
          stream: names.stream,
          subjectPrefix: names.subjectPrefix,
          replicas: 3,
        });
        break;
      } catch (err) {
        if (attempt >= 10 || !/TIMEOUT|503|no responders/i.test(String((err as Error).message ?? err))) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    await nats.close();
  }
}

/** The projector instance that holds the lease (answers /ready); waits for one to. */
export async function activeProjector(projectors: SupervisedService[], timeoutMs: number): Promise<SupervisedService> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const p of projectors) if (await p.ready().catch(() => false)) return p;
    if (Date.now() > deadline) throw new Error(`no projector instance became active within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
