import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.js';

let stack: TestStack;
let api: TestStack['api'];

beforeAll(async () => {
  stack = await startStack('ryw', { maxWaitMs: 5000 });
  ({ api } = stack);
});
afterAll(async () => stack?.stop());

const create = async (name: string) => {
  const res = await api.app.inject({
    method: 'POST',
    url: '/api/campaigns',
    payload: { name, budget: { amount: 1000, currency: 'EUR' } },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string; version: number; position: number };
};

describe('reads through the projector', () => {
  it('returns a just-created campaign at once with minPosition', async () => {
    const c = await create('Spring');
    const started = Date.now();
    const res = await api.app.inject(`/api/campaigns/${c.id}?minPosition=${c.position}`);
    expect(res.statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.json()).toMatchObject({
      id: c.id,
      name: 'Spring',
      status: 'draft',
      version: 1,
      position: c.position,
      budget: { amount: 1000, currency: 'EUR' },
    });
    expect(res.headers.etag).toBe('"1"');
  });

  it("ignores a retired projection's checkpoint", async () => {
    await stack.pgEnv.pool.query(
      `insert into "${stack.pgEnv.schema}".projection_checkpoints (name, position) values ('campaigns_v0', 0)`,
    );
    const c = await create('Retired');
    const res = await api.app.inject(`/api/campaigns/${c.id}?minPosition=${c.position}&waitMs=2000`);
    expect(res.statusCode).toBe(200);
  });

  it('sees every write it waited for, command after command', async () => {
    const c = await create('Loop');
    let position = c.position;
    for (const action of ['launch', 'pause', 'resume']) {
      const r = await api.app.inject({ method: 'POST', url: `/api/campaigns/${c.id}/${action}`, payload: {} });
      position = r.json().position;
      const read = await api.app.inject(`/api/campaigns/${c.id}?minPosition=${position}`);
      expect(read.json().status).toBe(action === 'pause' ? 'paused' : 'active');
    }
  });

  it('answers 504, or stale data when allowed, if the position is not reached in time', async () => {
    const c = await create('Stale');
    const far = c.position + 1000;
    const res = await api.app.inject(`/api/campaigns/${c.id}?minPosition=${far}&waitMs=200`);
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({ code: 'STALE_READ', details: { minPosition: far } });
    const stale = await api.app.inject(`/api/campaigns/${c.id}?minPosition=${far}&waitMs=100&allowStale=true`);
    expect(stale.statusCode).toBe(200);
    expect(stale.json()).toMatchObject({ id: c.id, stale: true });
    expect(stale.headers['x-lightdom-stale']).toBe('true');
  });

  it('lists campaigns by status with cursor paging', async () => {
    const ids: string[] = [];
    let last = 0;
    for (let i = 0; i < 5; i++) {
      const c = await create(`page-${i}`);
      const r = await api.app.inject({ method: 'POST', url: `/api/campaigns/${c.id}/complete`, payload: {} });
      expect(r.statusCode).toBe(409); // draft campaigns cannot complete
      const launched = await api.app.inject({ method: 'POST', url: `/api/campaigns/${c.id}/launch`, payload: {} });
      const done = await api.app.inject({ method: 'POST', url: `/api/campaigns/${c.id}/complete`, payload: {} });
      expect(launched.statusCode).toBe(200);
      last = done.json().position;
      ids.push(c.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs: string = `status=completed&limit=2&minPosition=${last}${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await api.app.inject(`/api/campaigns?${qs}`);
      expect(page.statusCode).toBe(200);
      const body = page.json() as { items: { id: string; status: string }[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      for (const item of body.items) expect(item.status).toBe('completed');
      seen.push(...body.items.map((i) => i.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].sort());
    const stats = await api.app.inject(`/api/stats?minPosition=${last}`);
    expect(stats.json().campaigns.byStatus.completed).toBe(5);
  });

  it('answers 404 problem+json for an unknown campaign and 400 for a bad query', async () => {
    const missing = await api.app.inject('/api/campaigns/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toMatch(/problem\+json/);
    const bad = await api.app.inject('/api/campaigns?limit=0&status=sleeping');
    expect(bad.statusCode).toBe(400);
    expect(
      bad
        .json()
        .errors.map((e: { field: string }) => e.field)
        .sort(),
    ).toEqual(['limit', 'status']);
  });
});
