import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import { createLogger } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmqpServer, createAmqpServer } from '../src/index.js';

/**
 * The RabbitMQ-parity features driven by a non-JavaScript client: Debian's python3-pika
 * (installed by .ci/run) runs `clients/pika_parity.py` against RabbitMQ on 5672 and against
 * the gateway, and both must see the same thing.
 */
const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('./clients/pika_parity.py', import.meta.url));
const run = promisify(execFile);
const logger = createLogger('amqp-clients-test', { level: 'silent' });
let nats: NatsTestEnv;
let server: AmqpServer;
let gatewayPort: number;

beforeAll(async () => {
  nats = await createNatsTestEnv('amqpclients');
  const store = createEventStore(
    { nc: nats.nc, logger },
    { stream: nats.stream, subjectPrefix: nats.subjectPrefix, publishTimeoutMs: 1000, upcast: upcastEvent },
  );
  await store.ensureStream();
  server = createAmqpServer(
    { nc: nats.nc, commands: createCommandHandler({ store, logger }), store, logger },
    {
      host: '127.0.0.1',
      allowGuest: true,
      stream: `${nats.stream}_AMQP`,
      subjectPrefix: `${nats.subjectPrefix}_amqp`,
      topologyBucket: `${nats.kvBucket}_AMQP`,
    },
  );
  gatewayPort = await server.start(0);
});

afterAll(async () => {
  await server?.stop();
  await nats?.jsm.streams.delete(`${nats.stream}_AMQP`).catch(() => undefined);
  await nats?.cleanup();
});

/** What pika saw against the broker on `port`, with generated names masked. */
async function pika(port: number) {
  const { stdout } = await run(python, [script, String(port)], { timeout: 30_000 });
  return JSON.parse(stdout.replace(/pika-[0-9a-f-]{36}/g, 'pika-*').replace(/amq\.gen-[\w-]+/g, 'amq.gen-*'));
}

describe('python3-pika against RabbitMQ and the gateway', () => {
  it('sees the same topic matching, empty queue name, argument checks, nack multiple, qos global, flow, exchanges, dead letters, tx, single active consumer and priorities', async () => {
    const rabbit = await pika(5672);
    const gateway = await pika(gatewayPort);
    expect(rabbit).toMatchObject({
      topic: { star: 1, hash: 3 },
      no_previous: [404, 'NOT_FOUND - no previously declared queue'],
      empty_name: ['via-empty-name', 'pika-key', 0],
      nack_multiple: [
        ['a', true],
        ['b', true],
      ],
      qos_global: 3,
      flow: true,
      tx: [0, 1, 1],
      consumers: { first: ['0', '1', '2'], second: [], low: ['1'], high: ['0'] },
      dead_letters: [
        ['rejected', true, 'rejected', 1, null],
        ['expired', true, 'expired', 1, '20'],
      ],
      tx_not_selected: [406, 'PRECONDITION_FAILED - channel is not transactional'],
    });
    expect(rabbit.bad_args[2]).toEqual([
      406,
      "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'pika-*' in vhost '/': invalid_overflow",
    ]);
    expect(rabbit.exchanges).toEqual({
      via_dst: [
        ['k', { kind: 'a', n: 1 }],
        ['k', { kind: 'a' }],
      ],
      spill: [['other', { kind: 'a', n: 1 }]],
      h_all: [['k', { kind: 'a', n: 1 }]],
      h_any: [
        ['k', { kind: 'a', n: 1 }],
        ['k', { kind: 'a' }],
      ],
    });
    expect(gateway).toEqual(rabbit);
  });
});
