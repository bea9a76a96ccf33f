import { migrate } from '@lightdom/projector';
import { alternate } from '../lib/alternate.js';
import { createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { drive, type LoadRun, type LoadSummary, summarizeLoad } from '../lib/http.js';
import { cpuSeconds, freePort, peakRssMb, pidOf, rssMb, startProcess, waitForHttp } from '../lib/processes.js';
import { payloadOfSize, rawPublish, storedSize } from '../lib/rawJetStream.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';
import { mergeWindowed } from '../lib/windowed.js';

/** Fixed in both modes, so quick and full figures compare. */
const connections = 32;

const checkAnswers = (what: string, r: LoadSummary) => {
  if (r.failed > 0.01 * (r.ok + r.failed)) throw new Error(`${what}: ${r.failed} failed requests beside ${r.ok} 2xx`);
  return r;
};

export const httpCommands: Scenario = {
  name: 'http-commands',
  description: `POST /api/campaigns on the real command-api (a child process) under autocannon with ${connections} connections, beside a bare fastify child answering the same route with a constant 201, and raw JetStream publish with ${connections} in flight; the three take turns in rounds`,
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'http');
    await migrate(env.pg.pool, env.pg.schema);
    const rounds = ctx.pick(3, 5);
    const roundSeconds = ctx.pick(2, 4);

    const bare = startProcess(ctx.scope, 'fixture', 'bareFastify', {});
    // LOG_LEVEL=warn: at info fastify logs two lines per request, and the bare server logs
    // none. Without the "listening" line the port is chosen here and readiness polled.
    const port = await freePort();
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({ PORT: String(port), LOG_LEVEL: 'warn' }),
    );
    const apiUrl = `http://127.0.0.1:${port}`;
    const [bareLine] = await Promise.all([
      bare.waitForLine(/bare fastify listening/),
      waitForHttp(`${apiUrl}/ready`, api),
    ]);
    const bareUrl = (JSON.parse(bareLine) as { url: string }).url;
    const idleRss = rssMb(pidOf(api));

    const cpu = { bare: 0, api: 0 };
    const load = (who: 'bare' | 'api', seconds: number): Promise<LoadRun> => {
      const pid = pidOf(who === 'bare' ? bare : api);
      const before = cpuSeconds(pid);
      return drive({
        url: `${who === 'bare' ? bareUrl : apiUrl}/api/campaigns`,
        method: 'POST',
        body: createCampaignData('http'),
        ...(who === 'api' ? { headers: env.authHeaders } : {}),
        connections,
        durationSeconds: seconds,
      }).then((run) => {
        cpu[who] += cpuSeconds(pid) - before;
        return run;
      });
    };
    ctx.log('warm-up, 1 s each…');
    await load('bare', 1);
    await load('api', 1);
    cpu.bare = 0;
    cpu.api = 0;

    const { nc, jsm, stream } = env.nats;
    const bytes = await storedSize(nc, stream, (await jsm.streams.info(stream)).state.last_seq);
    const raw = await env.rawStream('raw');
    const js = nc.jetstream();
    const payload = payloadOfSize(bytes);
    ctx.log(`${rounds} rounds of ${roundSeconds} s each, in turn: bare fastify, command-api, raw publish…`);
    const runs = await alternate(rounds, {
      bare: () => load('bare', roundSeconds),
      api: () => load('api', roundSeconds),
      raw: () => rawPublish({ js, raw, payload, window: connections, durationMs: roundSeconds * 1000 }),
    });
    const bareRun = checkAnswers('bare fastify', summarizeLoad(runs.bare));
    const apiRun = checkAnswers('command-api', summarizeLoad(runs.api));
    const rawRun = mergeWindowed(runs.raw);
    const rawLat = summarize(rawRun.latenciesMs);
    const [bareRss, apiRss] = [peakRssMb(pidOf(bare)), peakRssMb(pidOf(api))];
    const busy = rounds * roundSeconds;

    const bareName = 'bare fastify, same route, constant 201';
    return [
      ctx.figure({
        metric: 'POST /api/campaigns throughput',
        unit: 'req/s',
        value: apiRun.rate,
        baseline: bareName,
        baselineValue: bareRun.rate,
        notes: `autocannon, ${connections} connections, ${rounds} rounds of ${roundSeconds} s after 1 s of warm-up; each request creates a campaign: one commit, one round trip to NATS (the publish; a create skips the load, see appends)${apiRun.failed ? `; ${apiRun.failed} requests failed` : ''}. CPU of the server process under load: command-api ${(cpu.api / busy).toFixed(2)} cores, bare fastify ${(cpu.bare / busy).toFixed(2)} cores`,
      }),
      ctx.figure({
        metric: 'POST /api/campaigns commits',
        unit: 'commits/s',
        value: apiRun.rate,
        baseline: `raw js.publish, ${connections} in flight`,
        baselineValue: rawRun.rate,
        notes: `raw payload ${bytes} bytes, the size of a CreateCampaign commit; raw publish latency p50 ${rawLat.p50.toFixed(2)} ms, p99 ${rawLat.p99.toFixed(2)} ms`,
      }),
      ctx.figure({
        metric: 'POST /api/campaigns latency p50',
        unit: 'ms',
        value: apiRun.p50,
        baseline: `${bareName}, p50`,
        baselineValue: bareRun.p50,
      }),
      ctx.figure({
        metric: 'POST /api/campaigns latency p99',
        unit: 'ms',
        value: apiRun.p99,
        baseline: `${bareName}, p99`,
        baselineValue: bareRun.p99,
        notes: `max ${apiRun.max.toFixed(1)} ms (bare ${bareRun.max.toFixed(1)} ms)`,
      }),
      ctx.figure({
        metric: 'command-api peak RSS under load',
        unit: 'MB',
        value: apiRss,
        baseline: 'bare fastify peak RSS, same load',
        baselineValue: bareRss,
        notes: `VmHWM of each process; the command-api held ${idleRss.toFixed(0)} MB when ready, before the load`,
      }),
    ];
  },
};
