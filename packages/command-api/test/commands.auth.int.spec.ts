import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildTestApp } from './harness.js';

/**
 * The REST and WebSocket rows of issue 8's auth matrix, and the run rules on both: each
 * refusal answers its protocol's error and leaves the stream's last sequence where it was.
 */
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;
let wsUrl: string;
let workflowId: string;
let runId: string;
const steps = [{ id: 'wait', type: 'delay', input: { ms: 600_000 } }];
const as = (token: string) => ({ authorization: `Bearer ${token}` });
const operator = as('op-token');
const reader = as('rd-token');

/** The stream's last sequence, from JetStream itself. */
const lastSeq = async () => (await nats.jsm.streams.info(nats.stream)).state.last_seq;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('httpauth'), createPgTestEnv('httpauth')]);
  t = await buildTestApp(nats, pgEnv, { tokens: 'op-token:olga:operator,rd-token:rita:reader,svc-token:exec:service' });
  wsUrl = `${(await t.app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws')}/ws`;
  const defined = await t.app.inject({
    method: 'POST',
    url: '/api/workflows',
    headers: operator,
    payload: { name: 'Wait', steps },
  });
  expect(defined.statusCode).toBe(201);
  workflowId = defined.json().id;
  const run = await t.app.inject({
    method: 'POST',
    url: `/api/workflows/${workflowId}/runs`,
    headers: operator,
    payload: { input: { audience: 'all' } },
  });
  expect(run.statusCode).toBe(201);
  runId = run.json().id;
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const createCampaign = { type: 'CreateCampaign', data: { name: 'X', budget: { amount: 1, currency: 'EUR' } } };
const completeStep = () => ({
  type: 'CompleteWorkflowStep',
  aggregateId: runId,
  data: { stepId: 'wait', output: { made: 'up' } },
});

type Frame = {
  op?: string;
  type?: string;
  id?: string;
  actor?: string;
  role?: string;
  error?: { code?: string; errors: { field: string }[] };
};

/** A socket that collects frames and its close code. */
async function open(headers: Record<string, string> = {}) {
  const ws = new WebSocket(wsUrl, { headers });
  const frames: Frame[] = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (raw) => frames.push(JSON.parse(raw.toString())));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = async (pred: (f: Frame) => boolean) => {
    for (let i = 0; i < 100; i++) {
      const f = frames.find(pred);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no matching frame in ${JSON.stringify(frames)}`);
  };
  return { ws, frames, closed, next, send: (f: unknown) => ws.send(JSON.stringify(f)) };
}

describe('a run started with only an input', () => {
  it("records the definition's steps and who asked", async () => {
    const events = await t.app.inject({
      url: `/api/events?aggregateType=workflowRun&aggregateId=${runId}`,
      headers: reader,
    });
    expect(events.statusCode).toBe(200);
    const requested = events.json().events[0];
    expect(requested.type).toBe('WorkflowRunRequested');
    expect(requested.data).toMatchObject({
      workflowId,
      definitionVersion: 1,
      steps: [expect.objectContaining({ id: 'wait', type: 'delay' })],
      input: { audience: 'all' },
      requestedBy: { actor: 'olga', role: 'operator' },
    });
    expect(requested.actor).toBe('olga');
    // Only this run's events, not the workflow's.
    expect(events.json().events.every((e: { aggregateId: string }) => e.aggregateId === runId)).toBe(true);
  });
});

describe('REST auth matrix', () => {
  const cases: [string, Record<string, string>, () => unknown, number, string][] = [
    ['no credentials', {}, () => createCampaign, 401, 'UNAUTHORIZED'],
    ['a wrong token', as('op-tokenx'), () => createCampaign, 401, 'UNAUTHORIZED'],
    ['a reader sending a command', reader, () => createCampaign, 403, 'FORBIDDEN'],
    ['an operator sending an internal command', operator, completeStep, 403, 'FORBIDDEN'],
  ];
  for (const [name, headers, body, status, code] of cases) {
    it(`refuses ${name} with ${status} and appends nothing`, async () => {
      const before = await lastSeq();
      const res = await t.app.inject({ method: 'POST', url: '/api/commands', headers, payload: body() as object });
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code, status, type: `/problems/${code.toLowerCase()}` });
      expect(await lastSeq()).toBe(before);
    });
  }

  it('refuses a reader on a resource route and a missing token on a read', async () => {
    const before = await lastSeq();
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/runs/${runId}/cancel`,
      headers: reader,
      payload: { reason: 'x' },
    });
    expect(res.statusCode).toBe(403);
    expect((await t.app.inject({ url: '/api/events' })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/campaigns' })).statusCode).toBe(401);
    expect(await lastSeq()).toBe(before);
  });
});

describe('WebSocket auth matrix', () => {
  it('closes 4401 when the first frame is not an auth frame (no credentials)', async () => {
    const before = await lastSeq();
    const s = await open();
    s.send({ op: 'command', id: 'c1', command: createCampaign });
    expect(await s.closed).toBe(4401);
    expect(s.frames[0]?.error?.code).toBe('UNAUTHORIZED');
    expect(await lastSeq()).toBe(before);
  });

  it('closes 4401 on a wrong token, in the header or the auth frame', async () => {
    const before = await lastSeq();
    const header = await open(as('nope'));
    expect(await header.closed).toBe(4401);
    const frame = await open();
    frame.send({ type: 'auth', token: 'nope' });
    expect(await frame.closed).toBe(4401);
    expect(await lastSeq()).toBe(before);
  });

  it('answers FORBIDDEN to a reader command (auth frame) and to an operator internal command (header)', async () => {
    const before = await lastSeq();
    const r = await open();
    r.send({ type: 'auth', token: 'rd-token' });
    expect(await r.next((f) => f.type === 'authenticated')).toMatchObject({ actor: 'rita', role: 'reader' });
    r.send({ op: 'command', id: 'c2', command: createCampaign });
    expect((await r.next((f) => f.id === 'c2')).error).toMatchObject({ code: 'FORBIDDEN' });
    const o = await open(operator);
    o.send({ op: 'command', id: 'c3', command: completeStep() });
    expect((await o.next((f) => f.id === 'c3')).error).toMatchObject({
      code: 'FORBIDDEN',
    });
    r.ws.close();
    o.ws.close();
    expect(await lastSeq()).toBe(before);
  });

  it('closes 4401 when no auth frame arrives in time', async () => {
    const quick = await buildTestApp(nats, pgEnv, { tokens: 'x-token:x:reader', wsAuthTimeoutMs: 200 });
    try {
      const url = `${(await quick.app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws')}/ws`;
      const ws = new WebSocket(url);
      expect(await new Promise((resolve) => ws.once('close', resolve))).toBe(4401);
    } finally {
      await quick.close();
    }
  });
});

describe('run rules', () => {
  const bad = () =>
    [
      ['an unknown workflow', { workflowId: 'no-such-workflow', input: {} }, 404, 'data.workflowId'],
      ['an unknown version', { workflowId, definitionVersion: 99, input: {} }, 404, 'data.definitionVersion'],
      ['steps of its own', { workflowId, steps, input: {} }, 400, 'data.steps'],
    ] as const;

  it('POST /api/commands refuses each, naming the field, and appends nothing', async () => {
    const before = await lastSeq();
    for (const [, data, status, field] of bad()) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/commands',
        headers: operator,
        payload: { type: 'RequestWorkflowRun', data },
      });
      expect(res.statusCode, field).toBe(status);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    expect(await lastSeq()).toBe(before);
  });

  it('POST /api/workflows/:id/runs refuses steps, an unknown version and an unknown workflow', async () => {
    const before = await lastSeq();
    const withSteps = await t.app.inject({
      method: 'POST',
      url: `/api/workflows/${workflowId}/runs`,
      headers: operator,
      payload: { input: {}, steps },
    });
    expect(withSteps.statusCode).toBe(400);
    expect(withSteps.json().errors[0].field).toBe('steps');
    const version = await t.app.inject({
      method: 'POST',
      url: `/api/workflows/${workflowId}/runs`,
      headers: operator,
      payload: { definitionVersion: 99 },
    });
    expect(version.statusCode).toBe(404);
    const unknown = await t.app.inject({ method: 'POST', url: '/api/workflows/nope/runs', headers: operator });
    expect(unknown.statusCode).toBe(404);
    expect(await lastSeq()).toBe(before);
  });

  it('the WebSocket refuses each with the same codes and fields', async () => {
    const before = await lastSeq();
    const s = await open(operator);
    for (const [name, data, status, field] of bad()) {
      s.send({ op: 'command', id: name.replaceAll(' ', '-'), command: { type: 'RequestWorkflowRun', data } });
      const f = await s.next((x) => x.id === name.replaceAll(' ', '-'));
      expect(f.error?.code, name).toBe(status === 404 ? 'NOT_FOUND' : 'VALIDATION_FAILED');
      expect(f.error?.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    s.ws.close();
    expect(await lastSeq()).toBe(before);
  });
});

describe('query parameters', () => {
  it('refuses an unknown parameter by name, and limit where a list has it', async () => {
    const res = await t.app.inject({ url: '/api/events?aggregateID=x&limit=5', headers: reader });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual([{ field: 'aggregateID', message: 'is not a parameter of this route' }]);
    expect((await t.app.inject({ url: '/api/stats?limit=5', headers: reader })).json().errors[0].field).toBe('limit');
    expect((await t.app.inject({ url: '/api/events?aggregateId=x', headers: reader })).json().errors[0].field).toBe(
      'aggregateType',
    );
    const page = await t.app.inject({ url: '/api/events?limit=1', headers: reader });
    expect(page.json()).toMatchObject({
      hasMore: true,
      events: [expect.objectContaining({ type: 'WorkflowDefined' })],
    });
  });
});
