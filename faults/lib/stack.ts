import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeOllama, type PrivateNats, startFakeOllama, startPrivateNats, uniqueId } from '@lightdom/testkit';
import { say } from './log.js';
import { type PrivatePostgres, startPrivatePostgres } from './privatePostgres.js';
import { type PrivateRedis, startPrivateRedis } from './privateRedis.js';
import { discoverServices, type StackNames, stackEnv } from './services.js';
import { createSupervisor, type SupervisedService, type Supervisor } from './supervisor.js';

export interface StackOptions {
  brokenProjector: boolean;
  batchSize: number;
  restartDelayMs: number;
}

export interface Stack {
  id: string;
  names: StackNames;
  nats: PrivateNats;
  postgres: PrivatePostgres;
  redis: PrivateRedis;
  ollama: FakeOllama;
  supervisor: Supervisor;
  /** Every supervised service, in the order they are killed. */
  services: SupervisedService[];
  api: SupervisedService;
  logDir: string;
  destroy(): Promise<void>;
}

/**
 * Private NATS, PostgreSQL and Redis on free ports, a fake Ollama, and every service
 * under the supervisor. The shared servers on 4222/5432/6379 are never touched.
 * `destroy` undoes whatever part of this was started, also after a failure half-way.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const id = uniqueId('faults');
  const names: StackNames = {
    stream: `FAULTS_${id.toUpperCase()}`,
    subjectPrefix: `f_${id}`,
    schema: `f_${id}`,
    redisPrefix: `f:${id}:`,
    idempotencyBucket: `FIDEM_${id.toUpperCase()}`,
    snapshotBucket: `FSNAP_${id.toUpperCase()}`,
    projectorDurable: `projector-${id}`,
    executorDurable: `executor-${id}`,
    aiWorkerDurable: `ai-worker-${id}`,
  };
  const logDir = mkdtempSync(join(tmpdir(), 'lightdom-faults-logs-'));
  const undo: (() => Promise<void>)[] = [];
  const destroy = async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  try {
    const [nats, postgres, redis, ollama] = await Promise.all([
      startPrivateNats(),
      startPrivatePostgres(),
      startPrivateRedis(),
      startFakeOllama(),
    ]);
    undo.push(nats.destroy, postgres.destroy, redis.destroy, ollama.close);
    say(`private servers: NATS ${nats.url}, PostgreSQL ${postgres.url}, Redis ${redis.url}, fake Ollama ${ollama.url}`);
    const supervisor = createSupervisor({
      env: stackEnv({
        natsUrl: nats.url,
        databaseUrl: postgres.url,
        redisUrl: redis.url,
        ollamaUrl: ollama.url,
        names,
        batchSize: opts.batchSize,
        brokenProjector: opts.brokenProjector,
      }),
      logDir,
      restartDelayMs: opts.restartDelayMs,
    });
    undo.push(supervisor.stopAll);
    const services: SupervisedService[] = [];
    for (const name of discoverServices()) services.push(await supervisor.add(name));
    const api = services.find((s) => s.name === 'command-api');
    if (!api) throw new Error('packages/command-api/src/main.ts is missing: the suite needs the API');
    const ports = (s: SupervisedService) =>
      Object.entries(s.ports)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
    say(`services: ${services.map((s) => `${s.name} (${ports(s)})`).join(', ')}; logs in ${logDir}`);
    await Promise.all(services.map((s) => s.waitReady(60_000)));
    return { id, names, nats, postgres, redis, ollama, supervisor, services, api, logDir, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
