import { connectNats } from '@lightdom/eventstore';
import { createPgTestEnv, type PgTestEnv, type PrivateNats, startPrivateNats, uniqueId } from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestApp } from './harness.js';

let server: PrivateNats;
let pgEnv: PgTestEnv;

beforeAll(async () => {
  [server, pgEnv] = await Promise.all([startPrivateNats(), createPgTestEnv('unavail')]);
});
afterAll(async () => {
  await server?.destroy();
  await pgEnv?.cleanup();
});

it('answers 503 within two seconds while NATS is down, and recovers by itself', async () => {
  const nats = await connectNats({ url: server.url, name: 'unavailable-test' });
  const id = uniqueId('unavail');
  const env = {
    nc: nats.nc,
    jsm: await nats.nc.jetstreamManager(),
    stream: `T_${id.toUpperCase()}`,
    subjectPrefix: `t_${id}`,
    kvBucket: `TKV_${id.toUpperCase()}`,
    id,
    cleanup: async () => undefined,
  };
  const t = await buildTestApp(env, pgEnv, { nc: nats.nc, isConnected: nats.isConnected });
  const create = () =>
    t.app.inject({
      method: 'POST',
      url: '/api/campaigns',
      payload: { name: 'x', budget: { amount: 1, currency: 'EUR' } },
    });
  try {
    const known = (await create()).json() as { id: string };
    await server.kill();
    // Creates, and commands with an idempotency key on a campaign the API has cached: no
    // path may wait on NATS (KV lookups, snapshot reads) while it is known to be down.
    const attempts = [
      create,
      () =>
        t.app.inject({
          method: 'POST',
          url: `/api/campaigns/${known.id}/launch`,
          payload: {},
          headers: { 'idempotency-key': `k-${Date.now()}` },
        }),
      () =>
        t.app.inject({
          method: 'POST',
          url: '/api/campaigns',
          payload: { name: 'y', budget: { amount: 1, currency: 'EUR' } },
          headers: { 'idempotency-key': `k2-${Date.now()}` },
        }),
    ];
    for (const attempt of attempts) {
      const started = Date.now();
      const res = await attempt();
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      expect(Date.now() - started).toBeLessThan(2000);
    }
    expect((await t.app.inject('/ready')).statusCode).toBe(503);
    await server.start();
    await expect.poll(async () => (await create()).statusCode, { timeout: 10_000, interval: 200 }).toBe(201);
    expect((await t.app.inject('/ready')).statusCode).toBe(200);
  } finally {
    await t.close();
    await nats.nc.close();
  }
});
