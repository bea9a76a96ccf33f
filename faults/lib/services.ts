import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@lightdom/testkit';

/**
 * The services to run and kill: every `packages/<name>/src/main.ts`, so a service added
 * later joins the suite without a change here. The known ones come first, in the order
 * the issue names them.
 */
export function discoverServices(): string[] {
  const known = ['command-api', 'projector', 'executor', 'ai-worker'];
  const present = readdirSync(join(repoRoot, 'packages')).filter((name) =>
    existsSync(join(repoRoot, 'packages', name, 'src', 'main.ts')),
  );
  // The anchor service needs a chain (a Hardhat node and a deployed contract); the suite runs
  // none, and the chain's own outage is tested in packages/anchor/test/checkpointer.int.spec.ts.
  const needsChain = ['anchor'];
  return [
    ...known.filter((n) => present.includes(n)),
    ...present.filter((n) => !known.includes(n) && !needsChain.includes(n)).sort(),
  ];
}

export interface StackNames {
  stream: string;
  subjectPrefix: string;
  schema: string;
  redisPrefix: string;
  idempotencyBucket: string;
  snapshotBucket: string;
  projectorDurable: string;
  executorDurable: string;
  aiWorkerDurable: string;
}

export interface StackEnvInput {
  natsUrl: string;
  databaseUrl: string;
  redisUrl: string;
  ollamaUrl: string;
  names: StackNames;
  batchSize: number;
  brokenProjector: boolean;
}

/**
 * One environment for every service: each reads the variables it knows and ignores the
 * rest, so command-api and projector agree on the schema, the stream and the buckets.
 */
export function stackEnv(i: StackEnvInput): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    NATS_URL: i.natsUrl,
    EVENTS_STREAM: i.names.stream,
    EVENTS_SUBJECT_PREFIX: i.names.subjectPrefix,
    DATABASE_URL: i.databaseUrl,
    DB_SCHEMA: i.names.schema,
    REDIS_URL: i.redisUrl,
    REDIS_KEY_PREFIX: i.names.redisPrefix,
    REDIS_CHANNEL_PREFIX: i.names.redisPrefix,
    IDEMPOTENCY_BUCKET: i.names.idempotencyBucket,
    SNAPSHOT_BUCKET: i.names.snapshotBucket,
    PROJECTOR_DURABLE: i.names.projectorDurable,
    PROJECTOR_BATCH_SIZE: String(i.batchSize),
    PROJECTOR_UNSAFE_CHECKPOINT: i.brokenProjector ? '1' : '0',
    EXECUTOR_DURABLE: i.names.executorDurable,
    AI_WORKER_DURABLE: i.names.aiWorkerDurable,
    OLLAMA_URL: i.ollamaUrl,
    API_TOKENS: '',
    // No tokens: the executor and the AI worker need AUTH=off to start without a SERVICE_TOKEN.
    AUTH: 'off',
  };
}

/**
 * The port variables a service reads (`PORT`, `GRPC_PORT`, …), from its config schema: each
 * gets a free port of its own, so no default port (3001, 50051, …) of a stack that may be
 * running on this machine is taken, and a service added later needs no change here.
 */
export function portVariables(service: string): string[] {
  const file = join(repoRoot, 'packages', service, 'src', 'config.ts');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const found = [...text.matchAll(/\b([A-Z][A-Z0-9_]*PORT)\s*:\s*port\(/g)].map((m) => m[1]!);
  return [...new Set(['PORT', ...found])];
}
