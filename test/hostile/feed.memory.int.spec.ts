import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createPgTestEnv,
  type PgTestEnv,
  type PrivateNats,
  type ServiceProcess,
  spawnService,
  startPrivateNats,
} from '@lightdom/testkit';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaign, wsClient } from './feed.clients.js';

/**
 * The memory half of finding 6, on real processes: the command-api as a child process
 * (default configuration) on a nats-server of the test's own, so both processes' memory
 * can be read from /proc. Measured (2 cores, 2026-12): before the feed hub, these cycles
 * left 2,200 consumers on the stream (each kept five minutes) and grew nats-server from
 * 24 to 120 MB; with it, at most 5 consumers, nats-server +4 MB, command-api +15 MB.
 */
const cycles = 2000;
/** The hub's consumer, FEED_MAX_CONCURRENT_READS (4) history reads, one delete in flight. */
const consumerBound = 6;
/** Growth of resident memory over the cycles, in MB. */
const commandApiGrowthMb = 50;
const natsGrowthMb = 40;

let nats: PrivateNats;
let pgEnv: PgTestEnv;
let api: ServiceProcess;
let nc: NatsConnection;
let wsUrl: string;

const rssMb = (pid: number) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
};

/** The pid of the nats-server this test started (found by its port on the command line). */
function natsPid(port: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('nats-server') && argv[argv.indexOf('-p') + 1] === String(port)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  throw new Error(`no nats-server on port ${port}`);
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([startPrivateNats(), createPgTestEnv('feedmem')]);
  const port = await freePort();
  api = spawnService('command-api', {
    NATS_URL: nats.url,
    HOST: '127.0.0.1',
    PORT: String(port),
    GRPC_PORT: '0',
    AMQP_PORT: '0',
    DATABASE_URL: pgEnv.databaseUrl,
    DB_SCHEMA: pgEnv.schema,
    API_TOKENS: 'tok:mem',
    LOG_LEVEL: 'warn',
  });
  // LOG_LEVEL=warn keeps the child quiet (it prints no listening line): wait for /health.
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300 || api.child.exitCode !== null) throw new Error(`command-api did not start:\n${api.output()}`);
    await sleep(100);
  }
  wsUrl = `ws://127.0.0.1:${port}/ws?token=tok`;
  nc = await connect({ servers: nats.url });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await api?.kill('SIGTERM');
  await nats?.destroy();
  await pgEnv?.cleanup();
});

describe('finding 6: memory', () => {
  it(`finding 6: ${cycles} subscription cycles keep command-api and nats-server memory and the consumer count bounded`, async () => {
    const jsm = await nc.jetstreamManager();
    const consumers = async () => (await jsm.streams.info('EVENTS')).state.consumer_count;
    const c = await wsClient(wsUrl);
    const history: { position: number }[] = [];
    for (let i = 0; i < 8; i++) history.push(await c.command(`h${i}`, createCampaign(`mem-${i}`)));
    const apiPid = api.child.pid as number;
    const serverPid = natsPid(nats.port);

    const run = async (n: number, label: string, sample: (round: number) => Promise<void>) => {
      for (let round = 0; round < n / 8; round++) {
        const ids = Array.from({ length: 8 }, (_, i) => `${label}${round}-${i}`);
        ids.forEach((id, i) => {
          // Every third from the history (a short-lived read), the rest at the head.
          const after = i % 3 === 0 ? { after: history[i]!.position - 1 } : {};
          c.send({ op: 'subscribe', id, ...after, filter: { aggregateType: 'campaign' } });
        });
        for (const id of ids) await c.next((f) => f.op === 'subscribed' && f.id === id, 10_000);
        for (const id of ids) c.send({ op: 'unsubscribe', id });
        for (const id of ids) await c.next((f) => f.op === 'unsubscribed' && f.id === id, 10_000);
        await sample(round);
      }
    };
    await run(200, 'warm', async () => undefined); // JIT and pools settle first
    const before = { api: rssMb(apiPid), nats: rssMb(serverPid) };
    let peak = 0;
    const started = Date.now();
    await run(cycles, 'c', async (round) => {
      if (round % 25 === 0) peak = Math.max(peak, await consumers());
    });
    const ms = Date.now() - started;
    peak = Math.max(peak, await consumers());
    const after = { api: rssMb(apiPid), nats: rssMb(serverPid) };
    console.info(
      `finding 6 memory: ${cycles} cycles in ${ms} ms; peak consumers ${peak}; ` +
        `command-api RSS ${before.api.toFixed(0)} → ${after.api.toFixed(0)} MB; ` +
        `nats-server RSS ${before.nats.toFixed(0)} → ${after.nats.toFixed(0)} MB`,
    );
    expect(c.frames.filter((f) => f.op === 'error')).toEqual([]);
    expect(peak).toBeLessThanOrEqual(consumerBound);
    expect(after.api - before.api).toBeLessThan(commandApiGrowthMb);
    expect(after.nats - before.nats).toBeLessThan(natsGrowthMb);
    // The socket and the feed still work.
    c.send({ op: 'subscribe', id: 'live', filter: { aggregateType: 'campaign' } });
    await c.next((f) => f.op === 'subscribed' && f.id === 'live');
    const made = await c.command('last', createCampaign('mem-last'));
    expect((await c.events(1, 'live'))[0]).toMatchObject({ position: made.position });
    c.ws.close();
    // Without subscribers the hub deletes its consumer (FEED_IDLE_STOP_MS, 30 s by default)
    // and the history reads' consumers are gone already: only the hub's may remain.
    await expect.poll(consumers, { timeout: 5000 }).toBeLessThanOrEqual(1);
  }, 120_000);
});
