import { randomBytes } from 'node:crypto';
import { upcastEvent } from '@lightdom/domain';
import { createEventStore, type EventStore } from '@lightdom/eventstore';
import { migrate } from '@lightdom/readmodel';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type FakeOllama,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
  type ServiceProcess,
  spawnService,
  startFakeOllama,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlpReceiver.js';

/**
 * The real services (command-api, projector, executor, AI worker) export their spans over
 * OTLP/HTTP to a receiver on loopback; one HTTP command's trace must reach all of them,
 * every span linked to a parent that was exported too.
 */
const TOKEN = 'otel-admin-token';
const SERVICE_TOKEN = 'otel-service-token';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let redis: RedisTestEnv;
let store: EventStore;
let otlp: OtlpReceiver;
let ollama: FakeOllama;
let apiUrl: string;
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  [nats, pgEnv, redis, otlp, ollama] = await Promise.all([
    createNatsTestEnv('otel'),
    createPgTestEnv('otel'),
    createRedisTestEnv('otel'),
    startOtlpReceiver(),
    startFakeOllama({ reply: ({ prompt }) => `A line about ${prompt}` }),
  ]);
  await migrate(pgEnv.pool, pgEnv.schema);
  store = createEventStore(
    { nc: nats.nc },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, upcast: upcastEvent },
  );
  await store.ensureStream();
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
    HOST: '127.0.0.1',
    PORT: '0',
    API_TOKENS: `${TOKEN}:otel-tester:admin,${SERVICE_TOKEN}:otel-services:service`,
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
  };
  const start = (name: string, env: Record<string, string>) => {
    const p = spawnService(name, { ...common, ...env });
    processes.push(p);
    return p;
  };
  const api = start('command-api', {
    GRPC_PORT: '0',
    AMQP_PORT: '0',
    SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
    AMQP_STREAM: `${nats.stream}_AMQP`,
    AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
    AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_TOPO`,
  });
  const projector = start('projector', { PROJECTOR_DURABLE: `p_${nats.id}` });
  const executor = start('executor', {
    SERVICE_TOKEN,
    EXECUTOR_DURABLE: `x_${nats.id}`,
    EXECUTOR_AI_DURABLE: `xa_${nats.id}`,
  });
  const worker = start('ai-worker', {
    SERVICE_TOKEN,
    OLLAMA_URL: ollama.url,
    AI_WORKER_DURABLE: `w_${nats.id}`,
    OTEL_SERVICE_NAME: 'ai-worker-under-test',
  });
  const listening = await api.waitForLine(/command-api listening/, 60_000);
  apiUrl = (JSON.parse(listening) as { url: string }).url;
  await Promise.all([
    projector.waitForLine(/projector ready/, 60_000),
    executor.waitForLine(/executor listening/, 60_000),
    worker.waitForLine(/ai-worker listening/, 60_000),
  ]);
  for (const p of processes) expect(p.output()).toMatch(/exporting traces over OTLP\/HTTP/);
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGTERM').catch(() => undefined)));
  await Promise.all([otlp?.close(), ollama?.close(), nats?.cleanup(), pgEnv?.cleanup(), redis?.cleanup()]);
});

const post = async (path: string, body: unknown, traceparent: string) => {
  const res = await fetch(`${apiUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', traceparent },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
  return (await res.json()) as { id: string; position: number };
};

const newTrace = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });

/** Spans of `traceId` whose parent was not exported (the caller's own span excepted). */
function orphans(spans: ReceivedSpan[], callerSpanId: string): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => s.parentSpanId !== callerSpanId && !ids.has(s.parentSpanId));
}

describe('OpenTelemetry traces over OTLP', () => {
  it('one HTTP command is one trace across command-api, projector, executor and AI worker', async () => {
    const setup = newTrace();
    const campaign = await post(
      '/api/campaigns',
      { name: 'Traced', budget: { amount: 100, currency: 'EUR' } },
      `00-${setup.traceId}-${setup.spanId}-01`,
    );
    const workflow = await post(
      '/api/workflows',
      {
        name: 'traced run',
        steps: [
          { id: 'pause', type: 'delay', input: { ms: 50 } },
          { id: 'line', type: 'ai.generate', input: { prompt: 'tracing' }, dependsOn: ['pause'], timeoutMs: 20_000 },
          {
            id: 'launch',
            type: 'campaign.command',
            input: { type: 'LaunchCampaign', aggregateId: campaign.id, data: {} },
            dependsOn: ['line'],
          },
        ],
      },
      `00-${setup.traceId}-${setup.spanId}-01`,
    );

    const caller = newTrace();
    const run = await post(
      `/api/workflows/${workflow.id}/runs`,
      { input: {} },
      `00-${caller.traceId}-${caller.spanId}-01`,
    );
    await expect
      .poll(
        async () =>
          (await store.readAggregate('workflowRun', run.id)).flatMap((c) => c.events.map((e) => e.type)).at(-1),
        { timeout: 45_000, interval: 200 },
      )
      .toBe('WorkflowRunSucceeded');

    const lastPosition = (await store.readAggregate('workflowRun', run.id)).at(-1)?.position;
    const inTrace = () => otlp.spans.filter((s) => s.traceId === caller.traceId);
    const named = (service: string, name: string) => inTrace().filter((s) => s.service === service && s.name === name);
    // Spans are batched (1 s) by each process: wait until the whole trace arrived and hangs together.
    await expect
      .poll(
        () => {
          const spans = inTrace();
          const services = new Set(spans.map((s) => s.service));
          return {
            services: [...services].sort(),
            runSucceededProjected: spans.some(
              (s) => s.service === 'projector' && s.attributes['lightdom.position'] === lastPosition,
            ),
            launchCommitted: named('executor', 'commit LaunchCampaign').length,
            orphans: orphans(spans, caller.spanId).map((s) => `${s.service}: ${s.name}`),
          };
        },
        { timeout: 30_000, interval: 250 },
      )
      .toEqual({
        services: ['ai-worker-under-test', 'command-api', 'executor', 'projector'],
        runSucceededProjected: true,
        launchCommitted: 1,
        orphans: [],
      });
    expect(otlp.rejected).toEqual([]);

    // The edge's span continues the caller's; the commit is its child; consumers hang below the commit.
    const [edge] = named('command-api', 'http RequestWorkflowRun');
    expect(edge).toMatchObject({ parentSpanId: caller.spanId, kind: 2 /* SERVER */ });
    const [commit] = named('command-api', 'commit RequestWorkflowRun');
    expect(commit).toMatchObject({ parentSpanId: edge?.spanId, kind: 4 /* PRODUCER */ });
    expect(commit?.attributes['lightdom.position']).toBe(run.position);
    const [projected] = named('projector', 'project RequestWorkflowRun');
    expect(projected).toMatchObject({ parentSpanId: commit?.spanId, kind: 5 /* CONSUMER */ });
    expect(projected?.attributes['lightdom.position']).toBe(run.position);
    const executed = named('executor', 'execute RequestWorkflowRun');
    expect(executed.length).toBeGreaterThanOrEqual(1);
    for (const e of executed) expect(e.parentSpanId).toBe(commit?.spanId);

    // Each activity ran in a span of its own (a delay is a timer on the run's commit, not an
    // activity), and the AI task's span is in the same trace.
    const steps = inTrace()
      .filter((s) => s.service === 'executor' && s.name.startsWith('step '))
      .map((s) => s.name);
    expect(steps.sort()).toEqual(['step ai.generate', 'step campaign.command']);
    expect(named('ai-worker-under-test', 'ai-task').length).toBeGreaterThanOrEqual(1);
    expect(named('ai-worker-under-test', 'commit CompleteAiTask').length).toBe(1);

    // The other trace (campaign and workflow set-up) did not leak into this one.
    expect(inTrace().some((s) => s.name === 'commit CreateCampaign')).toBe(false);
    expect(otlp.spans.filter((s) => s.traceId === setup.traceId && s.name === 'commit CreateCampaign')).toHaveLength(1);
  }, 120_000);
});
