import { connect as tcpConnect } from 'node:net';
import { assertServersReachable } from '@lightdom/testkit';
import type { Server } from './types.js';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: the bench is not a turbo task, so turbo's cache never sees it.
const rabbitUrl = new URL(process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

/** Sends the AMQP 0-9-1 protocol header and expects a frame back (Connection.Start). */
function probeAmqp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(Number(rabbitUrl.port || 5672), rabbitUrl.hostname);
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`RabbitMQ at ${rabbitUrl.host} is not reachable (${why})`));
    };
    socket.setTimeout(3000, () => fail('no answer within 3000 ms'));
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
    socket.once('data', (data) => {
      socket.destroy();
      if (data[0] === 1) resolve();
      else fail('it does not speak AMQP 0-9-1');
    });
  });
}

/** Fails with one message naming every needed server that does not answer. */
export async function assertBenchServers(needs: Set<Server>): Promise<void> {
  const problems: string[] = [];
  if (needs.has('nats') || needs.has('postgres') || needs.has('redis')) {
    await assertServersReachable().catch((err: Error) => problems.push(err.message.replace(/^Tests need[^\n]*\n/, '')));
  }
  if (needs.has('rabbitmq')) await probeAmqp().catch((err: Error) => problems.push(`  - ${err.message}`));
  if (problems.length > 0) {
    throw new Error(`npm run bench needs the local servers:\n${problems.join('\n')}`);
  }
}
