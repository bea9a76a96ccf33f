import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from './harness.js';

/**
 * Run control and schedules over REST (issue 14): each route goes through the core, so the
 * roles apply, and a refusal appends nothing.
 */
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;
let workflowId: string;
const as = (token: string) => ({ authorization: `Bearer ${token}` });
const operator = as('op-token');
const reader = as('rd-token');
const service = as('svc-token');
const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

const post = (url: string, headers: Record<string, string>, payload: unknown = {}) =>
  t.app.inject({ method: 'POST', url, headers, payload: payload as Record<string, unknown> });

/** What the executor would record, sent here with the service token. */
const record = async (type: string, aggregateId: string, data: Record<string, unknown> = {}) => {
  const res = await post('/api/commands', service, { type, aggregateId, data });
  expect(res.statusCode, res.body).toBeLessThan(300);
};

async function startRun(payload: Record<string, unknown> = {}) {
  const res = await post(`/api/workflows/${workflowId}/runs`, operator, payload);
  expect(res.statusCode, res.body).toBe(201);
  const runId = res.json().id as string;
  await record('StartWorkflowRun', runId);
  return runId;
}

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('httpctl'), createPgTestEnv('httpctl')]);
  t = await buildTestApp(nats, pgEnv, { tokens: 'op-token:olga:operator,rd-token:rita:reader,svc-token:exec:service' });
  const defined = await post('/api/workflows', operator, {
    name: 'Two',
    steps: [
      { id: 'a', type: 'delay', input: { ms: 10 } },
      { id: 'b', type: 'delay', input: { ms: 10 }, dependsOn: ['a'] },
    ],
  });
  expect(defined.statusCode).toBe(201);
  workflowId = defined.json().id;
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

describe('run control over REST', () => {
  it('pauses and resumes a run as an operator; a reader is refused and nothing is appended', async () => {
    const runId = await startRun();
    const before = await lastSeq();
    expect((await post(`/api/runs/${runId}/pause`, reader)).statusCode).toBe(403);
    expect(await lastSeq()).toBe(before);

    const paused = await post(`/api/runs/${runId}/pause`, operator, { reason: 'legal review' });
    expect(paused.statusCode, paused.body).toBe(200);
    expect(paused.json().events).toEqual(['WorkflowRunPaused']);
    const again = await post(`/api/runs/${runId}/pause`, operator);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('INVALID_TRANSITION');

    const resumed = await post(`/api/runs/${runId}/resume`, operator);
    expect(resumed.statusCode).toBe(200);
    expect(resumed.json().events).toEqual(['WorkflowRunResumed']);
    const commit = (await t.store.readAggregate('workflowRun', runId)).at(-1);
    expect(commit?.actor).toBe('olga');
  });

  it('retries a failed step by hand, naming a bad step id in the path', async () => {
    const runId = await startRun();
    await record('StartWorkflowStep', runId, { stepId: 'a', attempt: 1 });
    await record('FailWorkflowStep', runId, { stepId: 'a', error: 'boom' });

    const unknown = await post(`/api/runs/${runId}/steps/zzz/retry`, operator);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].field).toBe('data.stepId');
    const badId = await post(`/api/runs/${runId}/steps/${encodeURIComponent('a b')}/retry`, operator);
    expect(badId.statusCode).toBe(400);
    expect(badId.json().errors[0].field).toBe('stepId');
    const extra = await post(`/api/runs/${runId}/steps/a/retry`, operator, { attempt: 9 });
    expect(extra.statusCode).toBe(400);

    const retried = await post(`/api/runs/${runId}/steps/a/retry`, operator);
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json().events).toEqual(['WorkflowStepRetryRequested']);
    // Back to started: the next attempt may start.
    await record('StartWorkflowStep', runId, { stepId: 'a', attempt: 2 });
  });

  it('records where a run came from, and refuses an executor-only source', async () => {
    const res = await post(`/api/workflows/${workflowId}/runs`, operator, {
      input: {},
      source: { kind: 'n8n', ref: 'lead-intake/1234' },
    });
    expect(res.statusCode, res.body).toBe(201);
    const requested = (await t.store.readAggregate('workflowRun', res.json().id))[0]?.events[0];
    expect((requested?.data as { source?: unknown } | undefined)?.source).toEqual({
      kind: 'n8n',
      ref: 'lead-intake/1234',
    });

    const posing = await post(`/api/workflows/${workflowId}/runs`, operator, { source: { kind: 'schedule' } });
    expect(posing.statusCode).toBe(400);
    expect(posing.json().errors[0].field).toBe('data.source.kind');
  });
});

describe('schedules over REST', () => {
  it('creates, pauses, resumes and deletes a schedule; a bad cron expression is a 400 naming data.cron', async () => {
    const before = await lastSeq();
    const bad = await post('/api/schedules', operator, { workflowId, cron: 'every minute' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('data.cron');
    expect((await post('/api/schedules', reader, { workflowId, cron: '* * * * *' })).statusCode).toBe(403);
    expect(await lastSeq()).toBe(before);

    const created = await post('/api/schedules', operator, {
      workflowId,
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const first = (await t.store.readAggregate('schedule', id))[0]?.events[0];
    expect(first?.data).toMatchObject({ cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', createdBy: { actor: 'olga' } });

    expect((await post(`/api/schedules/${id}/pause`, operator)).json().events).toEqual(['SchedulePaused']);
    expect((await post(`/api/schedules/${id}/resume`, operator)).json().events).toEqual(['ScheduleResumed']);
    // Firing is the executor's: an operator may not.
    const fire = await post('/api/commands', operator, {
      type: 'FireSchedule',
      aggregateId: id,
      data: { slot: new Date().toISOString(), runId: 'r-x' },
    });
    expect(fire.statusCode).toBe(403);
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/api/schedules/${id}`,
      headers: operator,
      payload: {},
    });
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json().events).toEqual(['ScheduleDeleted']);
  });
});
