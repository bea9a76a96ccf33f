import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Identity, type StoredCommit, type WorkflowRunState, workflowRunDecider } from '@lightdom/domain';
import {
  type CommandHandler,
  createCommandHandler,
  createEventStore,
  createKvIdempotencyStore,
  type EventStore,
} from '@lightdom/eventstore';
import { createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv, testServers } from '@lightdom/testkit';
import { connect, type NatsConnection } from 'nats';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import {
  createExecutor,
  type Executor,
  type ExecutorDeps,
  type ExecutorOptions,
  parseAllowList,
} from '../../src/index.js';

/** Generous: the suite must pass on a loaded two-core machine. */
export const settleTimeout = { timeout: 15_000, interval: 50 };

/** The executor's service identity in these tests, and the registry holding its token. */
export const executorIdentity: Identity = { actor: 'executor', role: 'service' };
export const testTokens = createTokenRegistry([{ token: 'executor-test-token', identity: executorIdentity }]);

/** Who requests the harness's runs unless a test says otherwise. */
export const tester: Identity = { actor: 'tester', role: 'operator' };

export interface RunningExecutor {
  executor: Executor;
  nc: NatsConnection;
  registry: Registry;
  logs: string[];
  /** Graceful stop, then close the connection. */
  stop(): Promise<void>;
  /** Drops the NATS connection without acking anything, as a killed process would. */
  crash(): Promise<void>;
}

/** One isolated stream and KV bucket, a command handler for the test, and executors on demand. */
export async function createExecutorHarness(label: string) {
  const env: NatsTestEnv = await createNatsTestEnv(label);
  const store: EventStore = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  const idempotency = await createKvIdempotencyStore(env.nc.jetstream(), { bucket: env.kvBucket, ttlMs: 120_000 });
  const commands: CommandHandler = createCommandHandler({ store, idempotency });
  const executors: RunningExecutor[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  /**
   * Starts an executor on the test's stream. Its http.request steps may call loopback
   * (the tests' webhooks) unless `options.http.allow` says otherwise.
   */
  async function startExecutor(
    options: Partial<ExecutorOptions> = {},
    deps: Pick<ExecutorDeps, 'egress'> & Partial<Pick<ExecutorDeps, 'identity' | 'tokens' | 'clock'>> = {},
  ): Promise<RunningExecutor> {
    const nc = await connect({ servers: testServers.natsUrl });
    const registry = new Registry();
    const logs: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
    const executor = createExecutor(
      {
        nc,
        tokens: testTokens,
        identity: executorIdentity,
        logger,
        registry,
        idempotency: await createKvIdempotencyStore(nc.jetstream(), { bucket: env.kvBucket }),
        ...deps,
      },
      {
        stream: env.stream,
        subjectPrefix: env.subjectPrefix,
        durable: 'executor',
        ...options,
        http: { defaultTimeoutMs: 5000, allow: parseAllowList('127.0.0.1').entries, ...options.http },
      },
    );
    await executor.start();
    let stopped = false;
    const running: RunningExecutor = {
      executor,
      nc,
      registry,
      logs,
      async stop() {
        if (stopped) return;
        stopped = true;
        await executor.stop();
        if (!nc.isClosed()) await nc.close();
      },
      async crash() {
        stopped = true;
        await nc.close();
        // The process is "dead": end its loops without touching JetStream.
        await executor.stop().catch(() => undefined);
      },
    };
    executors.push(running);
    return running;
  }

  /**
   * Records a run of `steps` requested by `requester` (as the application core records a
   * run from a definition); returns its id and correlation id.
   */
  async function requestRun(steps: unknown[], input: Record<string, unknown> = {}, requester: Identity = tester) {
    const runId = `run-${randomUUID()}`;
    const correlationId = randomUUID();
    await commands.handle(
      {
        type: 'RequestWorkflowRun',
        aggregateId: runId,
        data: { workflowId: 'wf-test', definitionVersion: 1, steps, input, requestedBy: requester },
      },
      { actor: requester.actor, correlationId, causationId: correlationId },
    );
    return { runId, correlationId };
  }

  const runCommits = (runId: string): Promise<StoredCommit[]> => store.readAggregate('workflowRun', runId);

  async function runState(runId: string): Promise<WorkflowRunState> {
    let state = workflowRunDecider.initialState();
    for (const c of await runCommits(runId)) {
      for (const e of c.events) state = workflowRunDecider.evolve(state, e as never);
    }
    return state;
  }

  /** Waits until the run has ended; returns its final state. */
  async function waitForEnd(runId: string, timeout = settleTimeout.timeout): Promise<WorkflowRunState> {
    await expect
      .poll(async () => (await runState(runId)).status, { timeout, interval: 50 })
      .toMatch(/succeeded|failed|cancelled/);
    return runState(runId);
  }

  /** Every event of the run, flattened, with its commit. */
  async function runEvents(runId: string) {
    return (await runCommits(runId)).flatMap((commit) => commit.events.map((event) => ({ commit, event })));
  }

  /** How many WorkflowStepStarted each `step:attempt` has: exactly one each when nothing was duplicated. */
  async function stepStarts(runId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const { event } of await runEvents(runId)) {
      if (event.type !== 'WorkflowStepStarted') continue;
      const { stepId, attempt } = event.data as { stepId: string; attempt: number };
      counts[`${stepId}:${attempt}`] = (counts[`${stepId}:${attempt}`] ?? 0) + 1;
    }
    return counts;
  }

  return {
    env,
    store,
    commands,
    startExecutor,
    requestRun,
    runCommits,
    runState,
    waitForEnd,
    runEvents,
    stepStarts,
    onCleanup: (fn: () => Promise<unknown>) => closers.push(fn),
    /** Stops every executor started so far (between tests that count who did what). */
    async stopExecutors() {
      for (const e of executors.splice(0)) await e.stop().catch(() => undefined);
    },
    async cleanup() {
      for (const e of executors.splice(0)) await e.stop().catch(() => undefined);
      for (const fn of closers) await fn().catch(() => undefined);
      await env.cleanup();
    },
  };
}

export type ExecutorHarness = Awaited<ReturnType<typeof createExecutorHarness>>;

export interface WebhookCall {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type WebhookReply =
  | { status: number; json?: unknown; text?: string; delayMs?: number }
  /** Never answers (until the client gives up). */
  | { hang: true };

/** A local HTTP server for http.request steps: `reply` decides each answer from the call and how many came before on its path. */
export async function startWebhook(reply: (call: WebhookCall, nth: number) => WebhookReply) {
  const calls: WebhookCall[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const call = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    const nth = calls.filter((c) => c.path === call.path).length;
    calls.push(call);
    const r = reply(call, nth);
    if ('hang' in r) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if (r.delayMs) await new Promise((resolve) => setTimeout(resolve, r.delayMs));
    if (r.json !== undefined) {
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.json));
    } else {
      res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.text ?? '');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    callsTo: (path: string) => calls.filter((c) => c.path === path),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Stands in for the AI worker: answers every AiTaskRequested by starting the task and
 * completing it with `echo: <prompt>` (or failing it for good when the prompt is `fail`).
 */
export async function startFakeAiWorker(store: EventStore, commands: CommandHandler) {
  const subscription = await store.subscribe({ aggregateType: 'aiTask', after: 0 });
  const requested: StoredCommit[] = [];
  const loop = (async () => {
    for await (const commit of subscription) {
      const event = commit.events.find((e) => e.type === 'AiTaskRequested');
      if (!event) continue;
      requested.push(commit);
      const prompt = (event.data as { prompt: string | null }).prompt ?? '';
      const meta = { actor: 'fake-ai', correlationId: commit.correlationId, causationId: event.id };
      const id = commit.aggregateId;
      await commands.handle({ type: 'StartAiTask', aggregateId: id, data: { workerId: 'fake' } }, meta);
      if (prompt === 'fail') {
        await commands.handle(
          { type: 'FailAiTask', aggregateId: id, data: { error: 'model exploded', retryable: false } },
          meta,
        );
      } else {
        await commands.handle(
          {
            type: 'CompleteAiTask',
            aggregateId: id,
            data: {
              text: `echo: ${prompt}`,
              reasoning: 'thinking',
              promptTokens: 1,
              completionTokens: 2,
              durationMs: 3,
            },
          },
          meta,
        );
      }
    }
  })();
  return {
    requested,
    async stop() {
      subscription.stop();
      await loop.catch(() => undefined);
    },
  };
}

/** The value of a counter or gauge series in a registry, 0 when absent. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const metric = await registry.getSingleMetric(name)?.get();
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number | undefined> }[];
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
    .reduce((sum, v) => sum + v.value, 0);
}
