import { randomUUID } from 'node:crypto';
import { type StoredCommit, toRecordedEvents } from '@lightdom/domain';
import { type CommandHandler, createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv, testServers } from '@lightdom/testkit';
import { pino } from 'pino';
import { expect } from 'vitest';
import { type AiWorkerService, loadAiWorkerConfig, startAiWorkerService } from '../src/index.js';

/** A test file's own stream, a command handler acting as a client, and the workers it started. */
export interface AiTestbed {
  env: NatsTestEnv;
  store: EventStore;
  client: CommandHandler;
  logLines: string[];
  /** Starts an ai-worker service on this file's stream; `env` adds or overrides variables. */
  startWorker(ollamaUrl: string, env?: Record<string, string>): Promise<AiWorkerService>;
  /** The variables a worker of this testbed needs, e.g. for a child process. */
  workerEnv(ollamaUrl: string, env?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** The workers' service token in these tests (they act as `ai-worker`, role service). */
export const workerToken = 'ai-worker-test-token';

export async function createAiTestbed(label: string): Promise<AiTestbed> {
  const env = await createNatsTestEnv(label);
  const store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const services: AiWorkerService[] = [];
  const workerEnv = (ollamaUrl: string, extra: Record<string, string> = {}) => ({
    NATS_URL: testServers.natsUrl,
    EVENTS_STREAM: env.stream,
    EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
    OLLAMA_URL: ollamaUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    AI_PROGRESS_INTERVAL_MS: '100',
    AI_RETRY_DELAY_MS: '200',
    API_TOKENS: `${workerToken}:ai-worker:service`,
    SERVICE_TOKEN: workerToken,
    ...extra,
  });
  return {
    env,
    store,
    client: createCommandHandler({ store }),
    logLines,
    workerEnv,
    async startWorker(ollamaUrl, extra) {
      const service = await startAiWorkerService(loadAiWorkerConfig(workerEnv(ollamaUrl, extra)), logger);
      services.push(service);
      return service;
    },
    async close() {
      for (const s of services) await s.stop().catch(() => undefined);
      await env.cleanup();
    },
  };
}

/** Requests an AI task as a client would; returns its id and the correlation id it carries. */
export async function requestTask(bed: AiTestbed, data: Record<string, unknown>) {
  const correlationId = randomUUID();
  const result = await bed.client.handle(
    { type: 'RequestAiTask', data },
    { actor: 'tester', correlationId, causationId: correlationId },
  );
  return { taskId: result.id, correlationId, version: result.version };
}

export async function cancelTask(bed: AiTestbed, taskId: string) {
  const correlationId = randomUUID();
  return bed.client.handle(
    { type: 'CancelAiTask', aggregateId: taskId, data: { reason: 'no longer needed' } },
    { actor: 'tester', correlationId, causationId: correlationId },
  );
}

export interface TaskEvent {
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read event data loosely
  data: any;
  id: string;
  commit: StoredCommit;
}

/** The task's whole history, event by event, from the log. */
export async function taskHistory(bed: AiTestbed, taskId: string): Promise<TaskEvent[]> {
  const commits = await bed.store.readAggregate('aiTask', taskId);
  return commits.flatMap((commit) =>
    toRecordedEvents(commit).map((e) => ({ type: e.type, data: e.data, id: e.id, commit })),
  );
}

/** Polls the history until `done` holds, generously for a loaded machine; returns that history. */
async function pollHistory(bed: AiTestbed, taskId: string, done: (h: TaskEvent[]) => boolean, timeout: number) {
  let history: TaskEvent[] = [];
  await expect
    .poll(
      async () => {
        history = await taskHistory(bed, taskId);
        return done(history) ? 'done' : typesOf(history).join(',');
      },
      { timeout, interval: 50 },
    )
    .toBe('done');
  return history;
}

/** Waits until the task's history holds an event of `type`. */
export const waitForEvent = (bed: AiTestbed, taskId: string, type: string, timeout = 15_000) =>
  pollHistory(bed, taskId, (h) => h.some((e) => e.type === type), timeout);

/** Waits until the task completed, was cancelled, or failed for good. */
export const waitForOutcome = (bed: AiTestbed, taskId: string, timeout = 15_000) =>
  pollHistory(
    bed,
    taskId,
    (h) => {
      const last = h.at(-1);
      return (
        last?.type === 'AiTaskCompleted' ||
        last?.type === 'AiTaskCancelled' ||
        (last?.type === 'AiTaskFailed' && !last.data.willRetry)
      );
    },
    timeout,
  );

export const typesOf = (history: TaskEvent[]) => history.map((e) => e.type);
