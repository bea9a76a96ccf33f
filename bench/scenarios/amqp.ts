import { randomUUID } from 'node:crypto';
import { migrate } from '@lightdom/projector';
import amqp from 'amqplib';
import { alternate } from '../lib/alternate.js';
import { createBenchEnv } from '../lib/env.js';
import { freePort, startProcess, waitForHttp } from '../lib/processes.js';
import type { Scenario } from '../lib/types.js';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: the bench is not a turbo task, so turbo's cache never sees it.
const rabbitUrl = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Confirms awaited per batch of this many publishes; also the consumer's prefetch. */
const window = 256;
const payload = Buffer.alloc(512, 'x');

interface Run {
  messages: number;
  seconds: number;
}

/**
 * One round: a confirm channel publishes `count` messages to a fresh queue while a consumer
 * on another channel acks each one; the clock runs from the first publish to the last ack.
 */
async function pump(url: string, count: number, durable: boolean): Promise<Run> {
  const conn = await amqp.connect(url);
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    const queue = `bench-${randomUUID()}`;
    await pub.assertQueue(queue, { durable, autoDelete: false });
    await sub.prefetch(window);
    let received = 0;
    const t0 = performance.now();
    const done = new Promise<number>((resolve) => {
      sub.consume(queue, (m) => {
        if (!m) return;
        sub.ack(m);
        if (++received === count) resolve(performance.now());
      });
    });
    for (let sent = 0; sent < count; ) {
      const batch = Math.min(window, count - sent);
      for (let i = 0; i < batch; i++) pub.sendToQueue(queue, payload, { persistent: durable });
      sent += batch;
      await pub.waitForConfirms();
    }
    const t1 = await done;
    await pub.deleteQueue(queue);
    return { messages: count, seconds: (t1 - t0) / 1000 };
  } finally {
    await conn.close();
  }
}

const rate = (runs: Run[]) => runs.reduce((n, r) => n + r.messages, 0) / runs.reduce((s, r) => s + r.seconds, 0);

export const amqpThroughput: Scenario = {
  name: 'amqp',
  description: `publish (confirmed, ${window} per batch) and consume (prefetch ${window}, one ack each) of ${payload.length}-byte messages through the command-api's AMQP gateway (a child process, durable queues in JetStream) beside the same client code against RabbitMQ on 5672; the two take turns in rounds`,
  needs: ['nats', 'postgres', 'redis', 'rabbitmq'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'amqp');
    await migrate(env.pg.pool, env.pg.schema);
    const rounds = ctx.pick(3, 5);
    const count = ctx.pick(5000, 20000);
    const [port, amqpPort] = [await freePort(), await freePort()];
    const amqpStream = `${env.nats.stream}_AMQP`;
    ctx.scope.defer(() => env.nats.jsm.streams.delete(amqpStream).catch(() => undefined));
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({
        PORT: String(port),
        GRPC_PORT: '0',
        AMQP_PORT: String(amqpPort),
        AMQP_STREAM: amqpStream,
        AMQP_SUBJECT_PREFIX: `${env.nats.subjectPrefix}_amqp`,
        AMQP_TOPOLOGY_BUCKET: env.kvBucket('amqp'),
        // guest/guest, as against RabbitMQ: a reader, enough for queues (docs/amqp.md).
        AMQP_ALLOW_GUEST: 'true',
        // The service refuses to start with AUTH on and no token (guest still logs in as a reader).
        API_TOKENS: 'bench-amqp-token:bench:admin',
        LOG_LEVEL: 'warn',
      }),
    );
    await waitForHttp(`http://127.0.0.1:${port}/ready`, api);
    const gatewayUrl = `amqp://guest:guest@127.0.0.1:${amqpPort}`;

    ctx.log('warm-up, 1000 messages each…');
    await pump(gatewayUrl, 1000, true);
    await pump(rabbitUrl, 1000, true);
    ctx.log(`${rounds} rounds of ${count} messages, in turn: gateway and RabbitMQ, durable then transient queues…`);
    const runs = await alternate(rounds, {
      gateway: () => pump(gatewayUrl, count, true),
      rabbit: () => pump(rabbitUrl, count, true),
      gatewayTransient: () => pump(gatewayUrl, count, false),
      rabbitTransient: () => pump(rabbitUrl, count, false),
    });
    return [
      ctx.figure({
        metric: 'AMQP publish+consume, durable queue, persistent messages',
        unit: 'msg/s',
        value: rate(runs.gateway),
        baseline: 'RabbitMQ 5672, same client and load',
        baselineValue: rate(runs.rabbit),
        notes: `${rounds} rounds of ${count} messages; the gateway appends each message to JetStream before confirming it and deletes it by sequence when acked`,
      }),
      ctx.figure({
        metric: 'AMQP publish+consume, transient queue',
        unit: 'msg/s',
        value: rate(runs.gatewayTransient),
        baseline: 'RabbitMQ 5672, same client and load',
        baselineValue: rate(runs.rabbitTransient),
        notes: 'non-durable queues live in the gateway process only',
      }),
    ];
  },
};
