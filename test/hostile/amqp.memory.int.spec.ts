import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type ServiceProcess,
  spawnService,
} from '@lightdom/testkit';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyFrame, contentHeader, RawAmqp } from './amqp.rawClient.js';

/**
 * Finding 5 of issue 7, measured on the real command-api process with its default AMQP
 * bounds: its resident memory (VmRSS from /proc) while one connection holds unfinished
 * publishes on 300 channels, and while 3,000 × 100 KB go into a transient queue that nobody
 * consumes. The bounds (also in docs/amqp.md) are growth over the process's own baseline.
 *
 * Before the bounds, the same run grew the process by about 300 MB in each flood (see the
 * "Bounds and defaults" in docs/amqp.md for the numbers); with them, by 35 to 140 MB.
 */
const UNFINISHED_FLOOD_MAX_GROWTH_MB = 120;
const TRANSIENT_FLOOD_MAX_GROWTH_MB = 200;

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let api: ServiceProcess;
let amqpPort: number;

const rssMb = (pid: number) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
};

/** Samples the child's RSS every 50 ms while `work` runs and for `settleMs` after; the peak and the last. */
async function peakDuring(work: () => Promise<void>, settleMs: number) {
  const pid = api.child.pid!;
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 50);
  try {
    await work();
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    clearInterval(timer);
  }
  const last = rssMb(pid);
  return { peak: Math.max(peak, last), last };
}

async function roundTrip() {
  const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpPort}`);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.from('ping'));
    for (let i = 0; i < 100; i++) {
      const m = await ch.get(queue, { noAck: true });
      if (m) return m.content.toString();
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  } finally {
    await conn.close();
  }
}

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('amqpmem'), createPgTestEnv('amqpmem')]);
  api = spawnService('command-api', {
    NATS_URL: 'nats://127.0.0.1:4222',
    EVENTS_STREAM: nats.stream,
    EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
    IDEMPOTENCY_BUCKET: `${nats.kvBucket}_IDEM`,
    SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
    AMQP_STREAM: `${nats.stream}_AMQP`,
    AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
    AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_AMQP`,
    DATABASE_URL: pgEnv.databaseUrl,
    DB_SCHEMA: pgEnv.schema,
    HOST: '127.0.0.1',
    PORT: '0',
    GRPC_PORT: '0',
    AMQP_PORT: '0',
    // The command-api refuses to start without a token (issue 8); this suite is about memory, not auth.
    AUTH: 'off',

    // The guest/guest login of this test (a reader: queues, no commands).
    AMQP_ALLOW_GUEST: 'true',
    LOG_LEVEL: 'info',
  });
  const line = await api.waitForLine(/command-api listening/, 30_000);
  amqpPort = JSON.parse(line).amqpPort;
  // Warm up (code paths, JIT, pools) so the baseline is the serving process's.
  for (let i = 0; i < 3; i++) expect(await roundTrip()).toBe('ping');
}, 60_000);

afterAll(async () => {
  await api?.kill('SIGKILL');
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

describe('AMQP memory bounds of the command-api process (finding 5)', () => {
  it(`finding 5: 300 channels × an unfinished 900 KB publish grow the command-api by less than ${UNFINISHED_FLOOD_MAX_GROWTH_MB} MB`, async () => {
    const baseline = rssMb(api.child.pid!);
    const c = await RawAmqp.open(amqpPort);
    const { peak, last } = await peakDuring(async () => {
      await c.handshake();
      const chunk = Buffer.alloc(100 * 1024, 1);
      for (let ch = 1; ch <= 300; ch++) {
        if (c.frames.some((f) => f.method === 'connection.close')) break;
        await c.method(ch, 'channel.open');
        await c.method(ch, 'basic.publish', { exchange: '', routingKey: 'nowhere' });
        if (!(await c.write(contentHeader(ch, 950 * 1024)))) break;
        // 900 KB of the 950 KB declared: the publish never finishes.
        for (let i = 0; i < 9; i++) if (!(await c.write(bodyFrame(ch, chunk)))) break;
      }
    }, 1000);
    const growth = peak - baseline;
    console.log(
      `unfinished flood: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after ${last.toFixed(0)} MB`,
    );
    const close = await c.waitMethod('connection.close', 1000);
    c.destroy();
    expect(close.args?.replyCode).toBe(506);
    expect(growth).toBeLessThan(UNFINISHED_FLOOD_MAX_GROWTH_MB);
    expect(await roundTrip()).toBe('ping');
  }, 60_000);

  it(`finding 5: 3,000 × 100 KB into a transient queue with no consumer grow the command-api by less than ${TRANSIENT_FLOOD_MAX_GROWTH_MB} MB, also after the publisher left`, async () => {
    const baseline = rssMb(api.child.pid!);
    const queue = `flood-${randomUUID()}`;
    let kept = 0;
    const { peak, last } = await peakDuring(async () => {
      const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${amqpPort}`);
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(queue, { durable: false, autoDelete: false });
      const body = Buffer.alloc(100 * 1024, 2);
      for (let i = 0; i < 3000; i++) {
        ch.sendToQueue(queue, body);
        if (i % 100 === 99) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      kept = (await ch.checkQueue(queue)).messageCount;
      await conn.close();
    }, 2000);
    const growth = peak - baseline;
    console.log(
      `transient flood: baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after ${last.toFixed(0)} MB, ${kept} kept`,
    );
    // The queue outlives its publisher (it is neither exclusive nor auto-delete) but holds at most 64 MiB.
    expect(kept).toBe(Math.floor((64 * 1024 * 1024) / (100 * 1024)));
    expect(growth).toBeLessThan(TRANSIENT_FLOOD_MAX_GROWTH_MB);
    expect(last - baseline).toBeLessThan(TRANSIENT_FLOOD_MAX_GROWTH_MB);
    expect(await roundTrip()).toBe('ping');
  }, 60_000);
});
