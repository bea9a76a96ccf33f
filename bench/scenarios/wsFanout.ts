import { setTimeout as sleep } from 'node:timers/promises';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import { migrate } from '@lightdom/projector';
import WebSocket from 'ws';
import { benchMeta, createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { cpuSeconds, freePort, pidOf, startProcess, stopProcess, waitForHttp } from '../lib/processes.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';

const subscribers = 1000;
const eventsPerSecond = 100;

interface Phase {
  deliveries: number;
  expected: number;
  seconds: number;
  latenciesMs: number[];
  bytes: number;
  serverCores: number;
}

/** `"aggregateId":"<id>"` in a frame, without parsing it (the clients must stay cheaper than the servers). */
function aggregateIdOf(text: string): string | undefined {
  const at = text.indexOf('"aggregateId":"');
  if (at < 0) return undefined;
  const from = at + 15;
  return text.slice(from, text.indexOf('"', from));
}

/** Opens `n` sockets, a few at a time; `ready` resolves when the socket may receive events. */
async function openSockets(
  n: number,
  url: string,
  headers: Record<string, string>,
  onOpen: (ws: WebSocket) => Promise<void>,
): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const ws = new WebSocket(url, { headers, perMessageDeflate: false });
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        await onOpen(ws);
      }),
    );
  }
  return sockets;
}

export const wsFanout: Scenario = {
  name: 'ws-fanout',
  description: `live feed fan-out: ${subscribers.toLocaleString('en-US')} WebSocket subscribers on the command-api's /ws (one subscription each, all campaigns) while the bench appends ${eventsPerSecond} CreateCampaign commits/s; beside a raw \`ws\` server (a child process) that follows the same stream and sends every message to every socket; the two take turns`,
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'ws');
    await migrate(env.pg.pool, env.pg.schema);
    const seconds = ctx.pick(4, 10);
    const rounds = ctx.pick(1, 2);
    const { nc, stream, subjectPrefix } = env.nats;
    const store = createEventStore({ nc }, { stream, subjectPrefix, upcast: upcastEvent });
    await store.ensureStream();
    const handler = createCommandHandler({ store });

    const port = await freePort();
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({ PORT: String(port), LOG_LEVEL: 'warn', FEED_MAX_SUBSCRIPTIONS: String(subscribers * 2) }),
    );
    await waitForHttp(`http://127.0.0.1:${port}/ready`, api);

    const sentAt = new Map<string, number>();
    let n = 0;
    /** Appends `eventsPerSecond` commits a second for `ms`, paced by the clock (no drift). */
    const produce = async (ms: number) => {
      const t0 = performance.now();
      let sent = 0;
      const inFlight: Promise<unknown>[] = [];
      while (performance.now() - t0 < ms) {
        const due = Math.floor(((performance.now() - t0) / 1000) * eventsPerSecond);
        for (; sent < due; sent++) {
          const id = `ws${n++}`;
          sentAt.set(id, performance.now());
          inFlight.push(
            handler.handle({ type: 'CreateCampaign', aggregateId: id, data: createCampaignData(id) }, benchMeta()),
          );
        }
        await sleep(5);
      }
      await Promise.all(inFlight);
      return sent;
    };

    const measure = async (
      open: () => Promise<WebSocket[]>,
      serverPid: number,
      isEvent: (text: string) => boolean,
      ms = seconds * 1000,
    ): Promise<Phase> => {
      const sockets = await open();
      let deliveries = 0;
      let bytes = 0;
      let last = 0;
      const latenciesMs: number[] = [];
      for (const ws of sockets) {
        ws.on('message', (data: Buffer) => {
          const now = performance.now();
          const text = data.toString();
          if (!isEvent(text)) return;
          const id = aggregateIdOf(text);
          const t = id === undefined ? undefined : sentAt.get(id);
          if (t === undefined) return;
          deliveries++;
          bytes += data.length;
          last = now;
          latenciesMs.push(now - t);
        });
      }
      const cpu0 = cpuSeconds(serverPid);
      const t0 = performance.now();
      const sent = await produce(ms);
      const expected = sent * sockets.length;
      // Drain: until what was sent is delivered, or 5 s pass without progress.
      let progressAt = performance.now();
      for (let seen = deliveries; deliveries < expected && performance.now() - progressAt < 5000; ) {
        await sleep(100);
        if (deliveries !== seen) {
          seen = deliveries;
          progressAt = performance.now();
        }
      }
      const elapsed = (Math.max(last, t0) - t0) / 1000;
      const serverCores = (cpuSeconds(serverPid) - cpu0) / elapsed;
      for (const ws of sockets) ws.terminate();
      sentAt.clear();
      await sleep(500);
      return { deliveries, expected, seconds: elapsed, latenciesMs, bytes, serverCores };
    };

    const openApi = () =>
      openSockets(subscribers, `ws://127.0.0.1:${port}/ws`, env.authHeaders, async (ws) => {
        await new Promise<void>((resolve, reject) => {
          const onMessage = (data: Buffer) => {
            const f = JSON.parse(data.toString()) as { op: string };
            if (f.op === 'subscribed') {
              ws.off('message', onMessage);
              resolve();
            } else if (f.op === 'error') reject(new Error(`subscribe refused: ${data.toString()}`));
          };
          ws.on('message', onMessage);
          ws.send(JSON.stringify({ op: 'subscribe', id: 's', filter: { aggregateType: 'campaign' } }));
        });
      });

    const runRaw = async () => {
      const head = (await env.nats.jsm.streams.info(stream)).state.last_seq;
      const raw = startProcess(ctx.scope, 'fixture', 'wsBroadcast', {
        NATS_URL: env.urls.natsUrl,
        STREAM: stream,
        START_SEQ: String(head + 1),
      });
      const line = await raw.waitForLine(/ws broadcast listening/);
      const rawPort = (JSON.parse(line) as { port: number }).port;
      const phase = await measure(
        () => openSockets(subscribers, `ws://127.0.0.1:${rawPort}`, {}, async () => undefined),
        pidOf(raw),
        () => true,
      );
      await stopProcess(raw);
      return phase;
    };
    const runApi = () => measure(openApi, pidOf(api), isFeedEvent);

    ctx.log(`warm-up: ${subscribers} subscribers on the command-api, 1 s of events…`);
    const isFeedEvent = (text: string) => text.startsWith('{"op":"event"');
    await measure(openApi, pidOf(api), isFeedEvent, 1000);
    const apiRuns: Phase[] = [];
    const rawRuns: Phase[] = [];
    for (let r = 0; r < rounds; r++) {
      ctx.log(`round ${r + 1}/${rounds}: command-api, then raw ws, ${seconds} s of ${eventsPerSecond} events/s each…`);
      apiRuns.push(await runApi());
      rawRuns.push(await runRaw());
    }
    const total = (runs: Phase[]) => {
      const deliveries = runs.reduce((s, p) => s + p.deliveries, 0);
      const expected = runs.reduce((s, p) => s + p.expected, 0);
      const secs = runs.reduce((s, p) => s + p.seconds, 0);
      const bytes = runs.reduce((s, p) => s + p.bytes, 0);
      const cores = runs.reduce((s, p) => s + p.serverCores * p.seconds, 0) / secs;
      return {
        deliveries,
        expected,
        rate: deliveries / secs,
        lat: summarize(runs.flatMap((p) => p.latenciesMs)),
        frame: bytes / Math.max(1, deliveries),
        cores,
      };
    };
    const a = total(apiRuns);
    const w = total(rawRuns);
    const common = `${subscribers} sockets, ${eventsPerSecond} commits/s for ${seconds} s × ${rounds} round(s); clients in the bench process`;
    return [
      ctx.figure({
        metric: 'live feed deliveries',
        unit: 'deliveries/s',
        value: a.rate,
        baseline: `raw ws broadcast of the same commits, ${subscribers} sockets`,
        baselineValue: w.rate,
        notes: `${common}; delivered ${a.deliveries.toLocaleString('en-US')} of ${a.expected.toLocaleString('en-US')} (raw ${w.deliveries.toLocaleString('en-US')} of ${w.expected.toLocaleString('en-US')}); frames ${a.frame.toFixed(0)} bytes (raw ${w.frame.toFixed(0)}, the commit as stored); server CPU ${a.cores.toFixed(2)} cores (raw ${w.cores.toFixed(2)})`,
      }),
      ctx.figure({
        metric: 'live feed delivery latency p50',
        unit: 'ms',
        value: a.lat.p50,
        baseline: 'raw ws broadcast, p50',
        baselineValue: w.lat.p50,
        notes: 'from just before the append to the frame arriving at a subscriber; both include the append round trip',
      }),
      ctx.figure({
        metric: 'live feed delivery latency p99',
        unit: 'ms',
        value: a.lat.p99,
        baseline: 'raw ws broadcast, p99',
        baselineValue: w.lat.p99,
        notes: `max ${a.lat.max.toFixed(0)} ms (raw ${w.lat.max.toFixed(0)} ms)`,
      }),
    ];
  },
};
