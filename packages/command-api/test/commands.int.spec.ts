import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from './harness.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('api'), createPgTestEnv('api')]);
  t = await buildTestApp(nats, pgEnv);
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const json = (method: 'POST' | 'PATCH', url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({
    method,
    url,
    payload: payload as object,
    headers: { 'content-type': 'application/json', ...headers },
  });

const createCampaign = async (headers: Record<string, string> = {}) => {
  const res = await json(
    'POST',
    '/api/campaigns',
    { name: 'Spring', budget: { amount: 1000, currency: 'EUR' } },
    headers,
  );
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; version: number; position: number };
};

describe('command routes', () => {
  it('creates a campaign: 201 {id, version, position} and a Location', async () => {
    const head = await t.store.headPosition();
    const res = await json('POST', '/api/campaigns', { name: 'Spring', budget: { amount: 1000, currency: 'EUR' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ id: expect.any(String), version: 1, position: head + 1 });
    expect(res.headers.location).toBe(`/api/campaigns/${body.id}`);
    expect(res.headers.etag).toBe('"1"');
    const commit = await t.store.getCommit(body.position);
    expect(commit?.events[0]?.type).toBe('CampaignCreated');
    expect(commit?.correlationId).toBe(res.headers['x-correlation-id']);
  });

  it('accepts the generic envelope on POST /api/commands', async () => {
    const c = await createCampaign();
    const res = await json('POST', '/api/commands', { type: 'LaunchCampaign', aggregateId: c.id, data: {} });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id: c.id, version: 2, events: ['CampaignLaunched'] });
  });

  it('runs every lifecycle route and PATCH', async () => {
    const c = await createCampaign();
    const steps: [string, unknown, string][] = [
      ['schedule', { startAt: '2026-12-01T00:00:00Z' }, 'CampaignScheduled'],
      ['launch', {}, 'CampaignLaunched'],
      ['metrics', { impressions: 10, clicks: 2, spend: 5 }, 'CampaignMetricsRecorded'],
      ['pause', { reason: 'review' }, 'CampaignPaused'],
      ['resume', {}, 'CampaignResumed'],
      ['complete', {}, 'CampaignCompleted'],
      ['archive', {}, 'CampaignArchived'],
    ];
    let version = 1;
    for (const [action, body, event] of steps) {
      const res = await json('POST', `/api/campaigns/${c.id}/${action}`, body);
      expect(res.statusCode, action).toBe(200);
      expect(res.json().events).toEqual([event]);
      version = res.json().version;
    }
    expect(version).toBe(8);
    const other = await createCampaign();
    const patch = await json('PATCH', `/api/campaigns/${other.id}`, {
      name: 'Autumn',
      budget: { amount: 5, currency: 'EUR' },
    });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().events).toEqual(['CampaignRenamed', 'CampaignBudgetChanged']);
  });

  it('answers 412 when If-Match or expectedVersion does not match, and appends nothing', async () => {
    const c = await createCampaign();
    const head = await t.store.headPosition();
    const a = await json('POST', `/api/campaigns/${c.id}/launch`, {}, { 'if-match': '"7"' });
    expect(a.statusCode).toBe(412);
    expect(a.json()).toMatchObject({ code: 'VERSION_MISMATCH', details: { currentVersion: 1, expectedVersion: 7 } });
    const b = await json('POST', '/api/commands', { type: 'LaunchCampaign', aggregateId: c.id, expectedVersion: 0 });
    expect(b.statusCode).toBe(412);
    expect(await t.store.headPosition()).toBe(head);
    const ok = await json('POST', `/api/campaigns/${c.id}/launch`, {}, { 'if-match': '"1"' });
    expect(ok.statusCode).toBe(200);
  });

  it('answers 409 for a transition the lifecycle forbids', async () => {
    const c = await createCampaign();
    const res = await json('POST', `/api/campaigns/${c.id}/pause`, {});
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'INVALID_TRANSITION', details: { status: 'draft' } });
  });

  it('replays the first result for a repeated Idempotency-Key', async () => {
    const key = `k-${Date.now()}`;
    const first = await createCampaign({ 'idempotency-key': key });
    const head = await t.store.headPosition();
    const again = await json(
      'POST',
      '/api/campaigns',
      { name: 'Spring', budget: { amount: 1000, currency: 'EUR' } },
      { 'idempotency-key': key },
    );
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: first.id, position: first.position, duplicate: true });
    expect(await t.store.headPosition()).toBe(head);
  });
});

describe('bad input gets a problem document and loses nothing', () => {
  const cases: { name: string; send: () => ReturnType<typeof json>; status: number; field?: string }[] = [
    {
      name: 'unknown command type',
      send: () => json('POST', '/api/commands', { type: 'Explode', data: {} }),
      status: 400,
      field: 'type',
    },
    {
      name: 'missing field',
      send: () => json('POST', '/api/campaigns', { budget: { amount: 1, currency: 'EUR' } }),
      status: 400,
      field: 'data.name',
    },
    {
      name: 'wrong type',
      send: () => json('POST', '/api/campaigns', { name: 'x', budget: { amount: '1000', currency: 'EUR' } }),
      status: 400,
      field: 'data.budget.amount',
    },
    {
      name: 'unknown field',
      send: () => json('POST', '/api/campaigns', { name: 'x', budget: { amount: 1, currency: 'EUR' }, colour: 'red' }),
      status: 400,
      field: 'data.colour',
    },
    {
      name: 'a 2 MB body',
      send: () =>
        json('POST', '/api/campaigns', {
          name: 'x',
          description: 'y'.repeat(2 * 1024 * 1024),
          budget: { amount: 1, currency: 'EUR' },
        }),
      status: 413,
    },
    {
      name: 'non-JSON',
      send: () =>
        t.app.inject({
          method: 'POST',
          url: '/api/campaigns',
          payload: '{"name": oops',
          headers: { 'content-type': 'application/json' },
        }),
      status: 400,
      field: '(body)',
    },
    {
      name: 'a body that is not JSON at all',
      send: () =>
        t.app.inject({
          method: 'POST',
          url: '/api/campaigns',
          payload: 'name=x',
          headers: { 'content-type': 'text/plain' },
        }),
      status: 415,
    },
    {
      name: 'a JSON array',
      send: () => json('POST', '/api/commands', [1, 2]),
      status: 400,
      field: '(body)',
    },
    {
      name: 'an unknown campaign id',
      send: () => json('POST', '/api/campaigns/does-not-exist/launch', {}),
      status: 404,
    },
    {
      name: 'an id that cannot be a subject token',
      send: () => json('POST', '/api/commands', { type: 'LaunchCampaign', aggregateId: 'a.b.>', data: {} }),
      status: 400,
      field: 'aggregateId',
    },
    {
      name: 'a bad If-Match',
      send: () => json('POST', '/api/campaigns/x/launch', {}, { 'if-match': 'abc' }),
      status: 400,
      field: 'If-Match',
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const head = await t.store.headPosition();
      const res = await c.send();
      expect(res.statusCode).toBe(c.status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem).toMatchObject({
        status: c.status,
        type: expect.stringContaining('/problems/'),
        code: expect.any(String),
      });
      if (c.field) expect(problem.errors.map((e: { field: string }) => e.field)).toContain(c.field);
      expect(await t.store.headPosition()).toBe(head);
    });
  }
});

describe('authentication', () => {
  it('requires a bearer token when tokens are configured and records the actor', async () => {
    const secured = await buildTestApp(nats, pgEnv, { tokens: 's3cret:alice' });
    try {
      const payload = { name: 'A', budget: { amount: 1, currency: 'EUR' } };
      const denied = await secured.app.inject({ method: 'POST', url: '/api/campaigns', payload });
      expect(denied.statusCode).toBe(401);
      const ok = await secured.app.inject({
        method: 'POST',
        url: '/api/campaigns',
        payload,
        headers: { authorization: 'Bearer s3cret' },
      });
      expect(ok.statusCode).toBe(201);
      expect((await secured.store.getCommit(ok.json().position))?.actor).toBe('alice');
    } finally {
      await secured.close();
    }
  });
});

describe('ops routes', () => {
  it('serves health, readiness and Prometheus metrics', async () => {
    expect((await t.app.inject('/health')).statusCode).toBe(200);
    const ready = await t.app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toEqual({ nats: 'ok', postgres: 'ok' });
    const metrics = await t.app.inject('/metrics');
    expect(metrics.body).toContain('lightdom_commands_total{type="CreateCampaign",outcome="accepted"');
    expect(metrics.body).toContain('lightdom_http_request_duration_seconds_bucket');
  });
});
