import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type EdgeApp, startEdgeApp, TOKEN } from './edge.harness.js';

const ws = {
  allowedOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
  pingIntervalMs: 500,
  idleTimeoutMs: 1500,
};
/** Slack for timers on a busy 2-core machine. */
const tolerance = 1500;

let t: EdgeApp;
let wsUrl: string;
beforeAll(async () => {
  t = await startEdgeApp('edgews', { ws });
  wsUrl = `${t.url.replace('http', 'ws')}/ws?token=${TOKEN}`;
});
afterAll(async () => t?.close());

type Frame = {
  op: string;
  id?: string;
  result?: { position: number };
  error?: { code: string; errors?: { field: string }[] };
};

/** Opens a socket and queues its frames; `next` waits for the first one matching. */
async function open(options: WebSocket.ClientOptions = {}) {
  const socket = new WebSocket(wsUrl, options);
  const frames: Frame[] = [];
  socket.on('message', (raw) => frames.push(JSON.parse(raw.toString()) as Frame));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const next = async (pred: (f: Frame) => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = frames.findIndex(pred);
      if (i >= 0) return frames.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(frames)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), at: Date.now() })),
  );
  return { socket, send: (f: unknown) => socket.send(JSON.stringify(f)), next, closed };
}

/** An upgrade the server refuses: its status and body, read from the HTTP answer. */
function refusedUpgrade(headers: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, { headers });
    socket.once('open', () => reject(new Error('the upgrade was accepted')));
    socket.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    socket.once('error', () => undefined);
  });
}

const command = (id: string, type: string) => ({
  op: 'command',
  id,
  command: { type, data: { name: `ws-${id}`, budget: { amount: 1, currency: 'EUR' } } },
});

/** A command on a fresh socket is acknowledged: the feed still serves. */
async function stillServes() {
  const c = await open();
  c.send(command('ok', 'CreateCampaign'));
  expect((await c.next((f) => f.id === 'ok')).op).toBe('ack');
  c.socket.close();
}

describe('finding 9: cross-site WebSocket', () => {
  it('finding 9: an upgrade from another origin is refused with 403 before any frame, even with ?token=', async () => {
    const seq = await t.lastSeq();
    for (const origin of [
      'https://evil.example',
      'null',
      'http://localhost:3000.evil.example',
      'http://localhost:3001',
    ]) {
      const refused = await refusedUpgrade({ origin });
      expect(refused.status, origin).toBe(403);
      expect(refused.type).toContain('application/problem+json');
      const p = JSON.parse(refused.body) as { errors: { field: string }[] };
      expect(p.errors.map((e) => e.field)).toEqual(['Origin']);
      expect(refused.body).not.toContain(TOKEN);
    }
    expect(await t.lastSeq()).toBe(seq);
    // The refused upgrades were logged with the token redacted.
    expect(JSON.stringify(t.logs)).not.toContain(TOKEN);
    expect(t.logs.some((l) => l.msg === 'request' && l.url === '/ws?token=[redacted]' && l.status === 403)).toBe(true);
  });

  it('finding 9: the dashboard origin and clients without an Origin header are served', async () => {
    for (const origin of [...ws.allowedOrigins, undefined]) {
      const c = await open(origin ? { origin } : {});
      c.send({ op: 'ping' });
      expect((await c.next((f) => f.op === 'pong')).op).toBe('pong');
      c.socket.close();
    }
    await stillServes();
  });
});

describe('finding 7 (WebSocket): silent and idle sockets are cut', () => {
  it('finding 7: a socket that answers no ping is closed with 4408 within two ping intervals', async () => {
    const c = await open({ autoPong: false });
    const openedAt = Date.now();
    c.send({ op: 'ping' }); // not idle: only the missing pong can cut it
    const closed = await c.closed;
    expect(closed.code).toBe(4408);
    expect(closed.reason).toContain('no pong');
    expect(closed.at - openedAt).toBeLessThan(2 * ws.pingIntervalMs + tolerance);
    await stillServes();
  });

  it('finding 7: an idle socket (no frame, no subscription) is closed with 4408 after the idle time-out', async () => {
    const c = await open();
    const openedAt = Date.now();
    const closed = await c.closed;
    expect(closed.code).toBe(4408);
    expect(closed.reason).toContain('idle');
    expect(closed.at - openedAt).toBeGreaterThanOrEqual(ws.idleTimeoutMs - 50);
    expect(closed.at - openedAt).toBeLessThan(ws.idleTimeoutMs + tolerance);
  });

  it('finding 7: a socket that answers pings and holds a subscription stays open past the idle time-out', async () => {
    const c = await open();
    c.send({ op: 'subscribe', id: 's', filter: { aggregateType: 'campaign' } });
    expect((await c.next((f) => f.op === 'subscribed')).id).toBe('s');
    const outcome = await Promise.race([
      c.closed,
      new Promise((r) => setTimeout(() => r('open'), ws.idleTimeoutMs * 2)),
    ]);
    expect(outcome).toBe('open');
    c.socket.close();
  });
});

describe('finding 8 (WebSocket): hostile frames get an error frame naming the field', () => {
  it('finding 8: command types constructor, __proto__, toString and hasOwnProperty are refused, naming type', async () => {
    const c = await open();
    const seq = await t.lastSeq();
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      c.send(command(`p-${type}`, type));
      const f = await c.next((x) => x.id === `p-${type}`);
      expect(f.op).toBe('error');
      expect(f.error?.code).toBe('UNKNOWN_COMMAND');
      expect(f.error?.errors?.map((e) => e.field)).toEqual(['type']);
    }
    expect(await t.lastSeq()).toBe(seq);
    c.send(command('fine', 'CreateCampaign'));
    expect((await c.next((f) => f.id === 'fine')).op).toBe('ack');
    c.socket.close();
  });

  it('finding 8: subscribe with after: 1e300 (or afterIndex: 1e300) gets an error frame naming the field', async () => {
    const c = await open();
    c.send({ op: 'subscribe', id: 'huge', after: 1e300 });
    const f = await c.next((x) => x.id === 'huge', 3000);
    expect(f.op).toBe('error');
    expect(f.error?.code).toBe('VALIDATION_FAILED');
    expect(f.error?.errors?.map((e) => e.field)).toEqual(['after']);
    c.send({ op: 'subscribe', id: 'idx', after: 1, afterIndex: 1e300 });
    expect((await c.next((x) => x.id === 'idx', 3000)).error?.errors?.map((e) => e.field)).toEqual(['afterIndex']);
    c.send({ op: 'subscribe', id: 'neg', after: -1 });
    expect((await c.next((x) => x.id === 'neg', 3000)).error?.errors?.map((e) => e.field)).toEqual(['after']);
    // The socket still works.
    c.send({ op: 'subscribe', id: 'fine', after: 0 });
    expect((await c.next((x) => x.id === 'fine')).op).toBe('subscribed');
    c.socket.close();
  });
});
