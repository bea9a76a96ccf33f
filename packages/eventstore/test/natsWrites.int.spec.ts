import { connectNats, type NatsHandle } from '@lightdom/eventstore';
import { testServers, uniqueId } from '@lightdom/testkit';
import { afterEach, describe, expect, it } from 'vitest';

/** Counts the socket writes of a connection (nats.js's transport socket, a test-only peek). */
function countWrites(handle: NatsHandle): { writes: () => number } {
  const socket = (
    handle.nc as unknown as { protocol: { transport: { socket: { write: (...a: unknown[]) => boolean } } } }
  ).protocol.transport.socket;
  let writes = 0;
  const write = socket.write.bind(socket);
  socket.write = (...a: unknown[]) => {
    writes++;
    return write(...a);
  };
  return { writes: () => writes };
}

const handles: NatsHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

/** 50 publishes, each from its own timer callback (as requests from different sockets): their writes and what a subscriber got. */
async function publishFromSeparateCallbacks(coalesce: boolean) {
  const subject = `test.${uniqueId('writes')}`;
  const receiver = await connectNats({ url: testServers.natsUrl, name: 'writes-receiver' });
  const sender = await connectNats({ url: testServers.natsUrl, name: 'writes-sender', coalesceWrites: coalesce });
  handles.push(receiver, sender);
  const got: string[] = [];
  const sub = receiver.nc.subscribe(subject);
  const all = (async () => {
    for await (const m of sub) {
      got.push(m.string());
      if (got.length === 50) break;
    }
  })();
  await receiver.nc.flush();
  const counter = countWrites(sender);
  await new Promise<void>((resolve) => {
    for (let i = 0; i < 50; i++) {
      setTimeout(() => {
        sender.nc.publish(subject, String(i));
        if (i === 49) resolve();
      }, 0);
    }
  });
  await sender.nc.flush();
  await all;
  return { writes: counter.writes(), got };
}

describe('NATS writes of one event-loop turn are coalesced', () => {
  it('publishes from 50 callbacks of one turn leave in a few writes, in order, all delivered', async () => {
    const { writes, got } = await publishFromSeparateCallbacks(true);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    // One for the publishes (timers can straddle two turns on a loaded machine), one for flush()'s PING.
    expect(writes).toBeLessThanOrEqual(6);
  });

  it('without it, nats.js writes once per callback (what the test above would catch)', async () => {
    const { writes, got } = await publishFromSeparateCallbacks(false);
    expect(got).toHaveLength(50);
    expect(writes).toBeGreaterThanOrEqual(40);
  });

  it('request/reply and flush() still answer at once on a coalescing connection', async () => {
    const server = await connectNats({ url: testServers.natsUrl, name: 'writes-server' });
    const client = await connectNats({ url: testServers.natsUrl, name: 'writes-client' });
    handles.push(server, client);
    const subject = `test.${uniqueId('echo')}`;
    const sub = server.nc.subscribe(subject);
    void (async () => {
      for await (const m of sub) m.respond(m.data);
    })();
    await server.nc.flush();
    const started = performance.now();
    for (let i = 0; i < 20; i++) {
      const reply = await client.nc.request(subject, new TextEncoder().encode(`ping ${i}`), { timeout: 5000 });
      expect(new TextDecoder().decode(reply.data)).toBe(`ping ${i}`);
    }
    await client.nc.flush();
    // 20 round trips on loopback: generous for a loaded machine, far below any timer-driven delay.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
