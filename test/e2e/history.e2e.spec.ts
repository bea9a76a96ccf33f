import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from './stack.js';

let stack: TestStack;
let api: TestStack['api'];
let nats: TestStack['nats'];

beforeAll(async () => {
  stack = await startStack('history');
  ({ api, nats } = stack);
});
afterAll(async () => stack?.stop());

const post = (url: string, payload: object = {}) => api.app.inject({ method: 'POST', url, payload });

describe('history', () => {
  it('pages through all events in position order, with aggregate-type and event-type filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = (await post('/api/campaigns', { name: `h${i}`, budget: { amount: 10, currency: 'EUR' } })).json();
      await post(`/api/campaigns/${c.id}/launch`);
      ids.push(c.id);
    }
    const seen: { position: number; type: string; aggregateId: string }[] = [];
    let after = 0;
    for (;;) {
      const page = (await api.app.inject(`/api/events?after=${after}&limit=2`)).json();
      seen.push(...page.events);
      after = page.nextAfter;
      if (!page.hasMore) break;
    }
    expect(seen).toHaveLength(6);
    expect(seen.map((e) => e.position)).toEqual([...seen.map((e) => e.position)].sort((a, b) => a - b));
    const launched = (await api.app.inject('/api/events?type=CampaignLaunched&aggregateType=campaign')).json();
    expect(launched.events.map((e: { aggregateId: string }) => e.aggregateId)).toEqual(ids);
    expect((await api.app.inject('/api/events?aggregateType=workflow')).json().events).toEqual([]);
    expect((await api.app.inject('/api/events?after=-1')).statusCode).toBe(400);
  });

  it("lists one campaign's events with versions and correlation ids", async () => {
    const c = (await post('/api/campaigns', { name: 'one', budget: { amount: 10, currency: 'EUR' } })).json();
    const launch = await api.app.inject({
      method: 'POST',
      url: `/api/campaigns/${c.id}/launch`,
      payload: {},
      headers: {
        'x-correlation-id': 'corr-123',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    });
    expect(launch.statusCode).toBe(200);
    const res = (await api.app.inject(`/api/campaigns/${c.id}/events`)).json();
    expect(res.events.map((e: { type: string; version: number }) => [e.type, e.version])).toEqual([
      ['CampaignCreated', 1],
      ['CampaignLaunched', 2],
    ]);
    expect(res.events[1].correlationId).toBe('corr-123');
    const msg = await nats.jsm.streams.getMessage(nats.stream, { seq: launch.json().position });
    expect(msg.header.get('traceparent')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(msg.header.get('Lightdom-Correlation-Id')).toBe('corr-123');
    expect((await api.app.inject('/api/campaigns/missing/events')).statusCode).toBe(404);
  });

  it('folds a campaign as of a position or a time, matching the states seen while commands were sent', async () => {
    const c = (await post('/api/campaigns', { name: 'tt', budget: { amount: 100, currency: 'EUR' } })).json();
    const steps: [string, object][] = [
      ['launch', {}],
      ['metrics', { impressions: 5, spend: 10 }],
      ['pause', {}],
      ['metrics', { clicks: 3, spend: 20 }],
    ];
    const recorded: { position: number; time: string; view: Record<string, unknown> }[] = [];
    const record = async (position: number) => {
      const view = (await api.app.inject(`/api/campaigns/${c.id}?minPosition=${position}`)).json();
      const commit = await api.store.getCommit(position);
      delete view.readModelPosition;
      recorded.push({ position, time: commit!.timestamp, view });
    };
    await record(c.position);
    for (const [action, body] of steps) {
      await new Promise((r) => setTimeout(r, 5));
      await record((await post(`/api/campaigns/${c.id}/${action}`, body)).json().position);
    }
    for (const r of recorded) {
      const byPosition = (await api.app.inject(`/api/campaigns/${c.id}?asOf=${r.position}`)).json();
      expect(byPosition).toEqual(r.view);
      const byTime = (await api.app.inject(`/api/campaigns/${c.id}?asOf=${encodeURIComponent(r.time)}`)).json();
      expect(byTime).toEqual(r.view);
    }
    expect((await api.app.inject(`/api/campaigns/${c.id}?asOf=2001-01-01T00:00:00Z`)).statusCode).toBe(404);
    expect((await api.app.inject(`/api/campaigns/${c.id}?asOf=yesterday`)).statusCode).toBe(400);
  });
});
