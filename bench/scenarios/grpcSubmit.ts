import { createLightdomClients, type LightdomClients } from '@lightdom/command-api';
import { migrate } from '@lightdom/projector';
import { alternate } from '../lib/alternate.js';
import { createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { cpuSeconds, freePort, pidOf, startProcess, waitForHttp } from '../lib/processes.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';
import { mergeWindowed, runWindowed } from '../lib/windowed.js';

/** Calls in flight on one channel, as the HTTP scenario's connections. */
const inFlight = 32;

function submit(c: LightdomClients, data: string): Promise<unknown> {
  return new Promise((resolve, reject) =>
    c.commands.Submit!({ type: 'CreateCampaign', data }, (err: Error | null, res: unknown) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

export const grpcSubmit: Scenario = {
  name: 'grpc-submit',
  description: `CommandService.Submit (CreateCampaign) on the real command-api (a child process), ${inFlight} calls in flight on one channel, beside a bare grpc-js server (a child process, same protos) answering Submit with a fixed result; the two take turns in rounds. There is no streaming submit RPC (command.proto has Submit only)`,
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'grpc');
    await migrate(env.pg.pool, env.pg.schema);
    const rounds = ctx.pick(3, 5);
    const roundMs = ctx.pick(2000, 4000);
    const [port, grpcPort] = [await freePort(), await freePort()];
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({ PORT: String(port), GRPC_PORT: String(grpcPort), LOG_LEVEL: 'warn' }),
    );
    const echo = startProcess(ctx.scope, 'fixture', 'grpcEcho', {});
    const [line] = await Promise.all([
      echo.waitForLine(/grpc echo listening/),
      waitForHttp(`http://127.0.0.1:${port}/ready`, api),
    ]);
    const echoPort = (JSON.parse(line) as { port: number }).port;
    const apiClient = createLightdomClients(`127.0.0.1:${grpcPort}`, { token: env.token });
    const echoClient = createLightdomClients(`127.0.0.1:${echoPort}`, { token: env.token });
    ctx.scope.defer(() => apiClient.close());
    ctx.scope.defer(() => echoClient.close());
    const data = JSON.stringify(createCampaignData('grpc'));
    const cpu = { api: 0, echo: 0 };
    const load = (who: 'api' | 'echo', durationMs: number, warmupMs = 0) => {
      const pid = pidOf(who === 'api' ? api : echo);
      const before = cpuSeconds(pid);
      const client = who === 'api' ? apiClient : echoClient;
      return runWindowed({ window: inFlight, durationMs, warmupMs, op: () => submit(client, data) }).then((r) => {
        cpu[who] += cpuSeconds(pid) - before;
        return r;
      });
    };
    ctx.log('warm-up, 1 s each…');
    await load('echo', 1000);
    await load('api', 1000);
    cpu.api = 0;
    cpu.echo = 0;
    ctx.log(`${rounds} rounds of ${roundMs} ms each, in turn: grpc echo, command-api…`);
    const runs = await alternate(rounds, { echo: () => load('echo', roundMs), api: () => load('api', roundMs) });
    const a = mergeWindowed(runs.api);
    const e = mergeWindowed(runs.echo);
    if (a.errors > 0.01 * (a.ok + a.errors))
      throw new Error(`command-api: ${a.errors} failed calls, first: ${a.firstError}`);
    const [al, el] = [summarize(a.latenciesMs), summarize(e.latenciesMs)];
    const busy = (rounds * roundMs) / 1000;
    return [
      ctx.figure({
        metric: 'gRPC Submit (CreateCampaign) throughput',
        unit: 'calls/s',
        value: a.rate,
        baseline: `raw grpc-js unary echo, same protos, ${inFlight} in flight`,
        baselineValue: e.rate,
        notes: `${rounds} rounds of ${roundMs} ms after 1 s of warm-up; each call creates a campaign (one commit); latency p50 ${al.p50.toFixed(2)} ms, p99 ${al.p99.toFixed(2)} ms (echo ${el.p50.toFixed(2)} / ${el.p99.toFixed(2)} ms); CPU of the server process: command-api ${(cpu.api / busy).toFixed(2)} cores, echo ${(cpu.echo / busy).toFixed(2)} cores${a.errors ? `; ${a.errors} calls failed` : ''}`,
      }),
      ctx.figure({
        metric: 'gRPC Submit latency p99',
        unit: 'ms',
        value: al.p99,
        baseline: 'raw grpc-js unary echo p99',
        baselineValue: el.p99,
      }),
    ];
  },
};
