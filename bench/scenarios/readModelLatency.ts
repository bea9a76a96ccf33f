import { migrate } from '@lightdom/projector';
import { createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { freePort, peakRssMb, pidOf, startProcess, waitForHttp } from '../lib/processes.js';
import { openRoundTripper, payloadOfSize, storedSize } from '../lib/rawJetStream.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';

const warmup = 20;

async function expectStatus(res: Response, status: number, what: string) {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

export const readModelLatency: Scenario = {
  name: 'read-model-latency',
  description:
    'one command at a time: POST /api/campaigns, then GET /api/campaigns/:id?minPosition=<its position>, answered once the projector (a child process) has the row in PostgreSQL; beside a raw JetStream publish → consume round trip of the same payload size',
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'rm');
    await migrate(env.pg.pool, env.pg.schema);
    const samples = ctx.pick(200, 1000);
    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({ PORT: String(port), LOG_LEVEL: 'warn' }),
    );
    const projector = startProcess(
      ctx.scope,
      'service',
      'projector',
      env.serviceEnv({ PORT: '0', PROJECTOR_DURABLE: 'bench' }),
    );
    await Promise.all([waitForHttp(`${apiUrl}/ready`, api), projector.waitForLine(/"msg":"projector ready"/, 30_000)]);

    const commandToVisible = async (i: number | string) => {
      const t0 = performance.now();
      const created = await expectStatus(
        await fetch(`${apiUrl}/api/campaigns`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...env.authHeaders },
          body: JSON.stringify(createCampaignData(i)),
        }),
        201,
        'POST /api/campaigns',
      );
      const t1 = performance.now();
      await expectStatus(
        await fetch(`${apiUrl}/api/campaigns/${created.id}?minPosition=${created.position}`, {
          headers: env.authHeaders,
        }),
        200,
        'GET /api/campaigns/:id',
      );
      const t2 = performance.now();
      return { total: t2 - t0, afterAnswer: t2 - t1, position: Number(created.position) };
    };
    /** Size of a CreateCampaign commit as stored, so the raw messages weigh the same. */
    const commandSize = async (send: typeof commandToVisible) =>
      storedSize(env.nats.nc, env.nats.stream, (await send('size')).position);

    const raw = await env.rawStream('raw');
    const payload = payloadOfSize(await commandSize(commandToVisible));
    const tripper = await openRoundTripper(env.nats.nc, raw, payload);
    ctx.scope.defer(() => tripper.close());
    ctx.log(`${samples} samples, one at a time, taking turns: command until the read model shows it, raw round trip…`);
    for (let i = 0; i < warmup; i++) {
      await commandToVisible(i);
      await tripper.trip();
    }
    const total: number[] = [];
    const afterAnswer: number[] = [];
    const trips: number[] = [];
    for (let i = 0; i < samples; i++) {
      const r = await commandToVisible(warmup + i);
      total.push(r.total);
      afterAnswer.push(r.afterAnswer);
      trips.push(await tripper.trip());
    }
    const projectorRss = peakRssMb(pidOf(projector));
    const apiRss = peakRssMb(pidOf(api));
    const rawTrips = summarize(trips);
    const visible = summarize(total);
    const tail = summarize(afterAnswer);

    const baseline = 'raw JetStream publish → consume round trip';
    return [
      ctx.figure({
        metric: 'command → read model visible p50',
        unit: 'ms',
        value: visible.p50,
        baseline: `${baseline}, p50`,
        baselineValue: rawTrips.p50,
        notes: `${samples} sequential samples after ${warmup} of warm-up; the time after the command's 201 until the read answered: p50 ${tail.p50.toFixed(1)} ms, p99 ${tail.p99.toFixed(1)} ms. The read waits on the projector's pg_notify; command-api and projector peaked at ${apiRss.toFixed(0)} MB and ${projectorRss.toFixed(0)} MB RSS`,
      }),
      ctx.figure({
        metric: 'command → read model visible p99',
        unit: 'ms',
        value: visible.p99,
        baseline: `${baseline}, p99`,
        baselineValue: rawTrips.p99,
      }),
      ctx.figure({
        metric: 'command → read model visible max',
        unit: 'ms',
        value: visible.max,
        baseline: `${baseline}, max`,
        baselineValue: rawTrips.max,
      }),
    ];
  },
};
