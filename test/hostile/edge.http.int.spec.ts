import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { createMetricsRegistry, startOpsServer } from '@lightdom/runtime';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, type EdgeApp, startEdgeApp } from './edge.harness.js';

/** Time bounds short enough to measure (ms). */
const bounds = { requestTimeoutMs: 2000, headersTimeoutMs: 1500, keepAliveTimeoutMs: 1000, connectionTimeoutMs: 4000 };
/** Slack for Node's deadline timer (a tenth of the bound here) and a busy 2-core machine. */
const tolerance = 1500;

let t: EdgeApp;
beforeAll(async () => {
  t = await startEdgeApp('edgehttp', { http: bounds });
});
afterAll(async () => t?.close());

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${t.url}${path}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  api(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
const create = (name: string) => postJson('/api/campaigns', { name, budget: { amount: 10, currency: 'EUR' } });

type Problem = { status: number; code: string; detail: string; instance?: string; errors?: { field: string }[] };
async function problem(res: Response): Promise<Problem> {
  expect(res.headers.get('content-type')).toContain('application/problem+json');
  return (await res.json()) as Problem;
}
const fields = (p: Problem) => (p.errors ?? []).map((e) => e.field);

/** A normal request is served: the server is still up after hostile input. */
async function stillServes() {
  const res = await create(`after-${randomBytes(3).toString('hex')}`);
  expect(res.status).toBe(201);
}

/**
 * Size of `/metrics` and its series (sample lines without their values). The process's GC
 * histogram gains a series set the first time a GC kind runs: bounded, and not ours.
 */
async function metrics() {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const series = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('lightdom_nodejs_gc_duration_seconds'))
    .map((l) => l.replace(/ [^ ]+$/, ''))
    .sort();
  return { text, bytes: Buffer.byteLength(text), series };
}

/** Opens a raw socket, lets `drive` write to it, and resolves when the server closes it. */
function rawExchange(drive: (s: Socket) => void): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(Number(new URL(t.url).port), '127.0.0.1');
    let answer = '';
    const started = Date.now();
    s.on('data', (d) => {
      answer += d.toString();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ ms: Date.now() - started, answer }));
    s.on('connect', () => drive(s));
    setTimeout(() => {
      s.destroy();
      reject(new Error(`the server did not close the connection in 20 s; got: ${answer}`));
    }, 20_000).unref();
  });
}

describe('finding 4: metric labels come from known values only', () => {
  it('finding 4: 150 unique bad command types, 150 unique bad URLs and odd methods add no series to /metrics', async () => {
    // One of each kind first, so the `unknown` / `unmatched` / `OTHER` series exist.
    await postJson('/api/commands', { type: 'Warmup-bad-type', data: {} });
    await postJson('/api/commands', { type: 'constructor', data: {} });
    await postJson('/api/commands', { type: `Warmup-${'x'.repeat(1000)}`, data: {} });
    await api('/no/such/route/warmup');
    await api('/no/such/route/warmup', { method: 'PROPFIND' });
    await metrics();
    const before = await metrics();

    const seqBefore = await t.lastSeq();
    for (let i = 0; i < 150; i++) {
      // Short unknown types (UNKNOWN_COMMAND) and ones over the envelope's 200 characters (VALIDATION_FAILED).
      const type = `Bad-${i}-${randomBytes(8).toString('hex')}-${'x'.repeat(i % 2 ? 10 : 1000)}`;
      const res = await postJson('/api/commands', { type, data: {} });
      expect(res.status).toBe(400);
      expect(fields(await problem(res))).toEqual(['type']);
    }
    for (let i = 0; i < 150; i++) {
      const res = await api(`/no/such/route/${i}-${randomBytes(8).toString('hex')}`, {
        method: i % 2 ? 'GET' : 'PROPFIND',
      });
      expect(res.status).toBe(404);
    }
    expect(await t.lastSeq()).toBe(seqBefore);

    const after = await metrics();
    expect(after.series).toEqual(before.series);
    // Values changed (a few digits each); a new GC kind may add its 9 series. Unbounded labels would add > 300 KB.
    expect(Math.abs(after.bytes - before.bytes)).toBeLessThan(8 * 1024);
    expect(after.text).not.toMatch(/Bad-\d+-|no\/such|PROPFIND/);
    expect(after.text).toMatch(
      /lightdom_commands_total\{type="unknown",outcome="UNKNOWN_COMMAND",service="command-api"\} 77/,
    );
    expect(after.text).toMatch(
      /lightdom_commands_total\{type="unknown",outcome="VALIDATION_FAILED",service="command-api"\} 76/,
    );
    expect(after.text).toContain('route="unmatched"');
    expect(after.text).toContain('method="OTHER"');
    await stillServes();
  });
});

describe('finding 8: 400, not 500, for hostile strings and numbers', () => {
  it('finding 8: command types constructor, __proto__, toString and hasOwnProperty are refused, naming type', async () => {
    const seq = await t.lastSeq();
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await postJson('/api/commands', { type, data: {} });
      expect(res.status, type).toBe(400);
      const p = await problem(res);
      expect(p.code).toBe('UNKNOWN_COMMAND');
      expect(fields(p)).toEqual(['type']);
    }
    // The lifecycle action in the path is looked up the same way.
    const c = (await (await create('proto-action')).json()) as { id: string };
    const seqAfterCreate = await t.lastSeq();
    for (const action of ['constructor', '__proto__', 'toString']) {
      const res = await postJson(`/api/campaigns/${c.id}/${action}`, {});
      expect(res.status, action).toBe(404);
      expect((await problem(res)).code).toBe('NOT_FOUND');
    }
    expect(seqAfterCreate).toBe(seq + 1);
    expect(await t.lastSeq()).toBe(seqAfterCreate);
    await stillServes();
  });

  it('finding 8: after=1e30, after=-1, after=1.5 and limit=1e9 are refused, naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/api/events?after=1e30', 'after'],
      ['/api/events?after=-1', 'after'],
      ['/api/events?after=1.5', 'after'],
      ['/api/events?after=0x10', 'after'],
      ['/api/events?after=99999999999999999', 'after'],
      ['/api/events?limit=1e9', 'limit'],
      ['/api/events?limit=0', 'limit'],
      ['/api/campaigns?minPosition=1e30', 'minPosition'],
      ['/api/campaigns?limit=1e9', 'limit'],
      ['/api/stats?waitMs=1e30', 'waitMs'],
      ['/api/campaigns/some-id/events?after=1e30', 'after'],
    ];
    for (const [path, field] of cases) {
      const res = await api(path);
      expect(res.status, path).toBe(400);
      expect(fields(await problem(res)), path).toEqual([field]);
    }
    const seq = await t.lastSeq();
    const res = await postJson('/api/campaigns?expectedVersion=1e30', {
      name: 'v',
      budget: { amount: 1, currency: 'EUR' },
    });
    expect(res.status).toBe(400);
    expect(fields(await problem(res))).toEqual(['expectedVersion']);
    expect(await t.lastSeq()).toBe(seq);
    const ok = await api('/api/events?after=0&limit=1000');
    expect(ok.status).toBe(200);
    await stillServes();
  });

  it('finding 8: a NUL byte in a cursor or in a path id is refused, naming the field', async () => {
    const nulCursor = Buffer.from('\u0000').toString('base64url');
    for (const path of [
      '/api/campaigns?cursor=%00',
      `/api/campaigns?cursor=${nulCursor}`,
      '/api/campaigns?cursor=a%00b',
    ]) {
      const res = await api(path);
      expect(res.status, path).toBe(400);
      expect(fields(await problem(res)), path).toEqual(['cursor']);
    }
    const seq = await t.lastSeq();
    const requests: [string, string][] = [
      ['GET', '/api/campaigns/a%00b'],
      ['GET', '/api/campaigns/a%00b/events'],
      ['GET', '/api/campaigns/a%00b?asOf=1'],
      ['PATCH', '/api/campaigns/a%00b'],
      ['POST', '/api/campaigns/a%00b/launch'],
      ['GET', '/api/campaigns/%E2%80%AE'],
    ];
    for (const [method, path] of requests) {
      const res = await api(path, {
        method,
        ...(method === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }),
      });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(fields(await problem(res)), path).toEqual(['id']);
    }
    expect(await t.lastSeq()).toBe(seq);
    // A cursor of the kind nextCursor gives (base64url of a campaign id) still pages.
    const cursor = Buffer.from('0b6f1c2e-campaign').toString('base64url');
    expect((await api(`/api/campaigns?limit=1&cursor=${cursor}`)).status).toBe(200);
    await stillServes();
  });
});

describe('finding 7 (HTTP): slow and idle connections are cut', () => {
  it('finding 7: a body trickled at one byte per 300 ms is cut with 408 within the request time-out', async () => {
    const { ms, answer } = await rawExchange((s) => {
      s.write(
        'POST /api/campaigns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Authorization: Bearer edge-token\r\nContent-Length: 100000\r\n\r\n`,
      );
      const drip = setInterval(() => (s.writable ? s.write('{') : clearInterval(drip)), 300);
      s.on('close', () => clearInterval(drip));
    });
    expect(ms).toBeGreaterThanOrEqual(bounds.requestTimeoutMs - 100);
    expect(ms).toBeLessThan(bounds.requestTimeoutMs + tolerance);
    expect(answer).toMatch(/^HTTP\/1.1 408 /);
    expect(answer).toContain('application/problem+json');
    expect(answer).toContain('"code":"REQUEST_TIMEOUT"');
    await stillServes();
  });

  it('finding 7: headers trickled at one byte per 300 ms are cut within the header time-out', async () => {
    const { ms, answer } = await rawExchange((s) => {
      s.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const drip = setInterval(() => (s.writable ? s.write('a') : clearInterval(drip)), 300);
      s.on('close', () => clearInterval(drip));
    });
    expect(ms).toBeGreaterThanOrEqual(bounds.headersTimeoutMs - 100);
    expect(ms).toBeLessThan(bounds.headersTimeoutMs + tolerance);
    expect(answer).toMatch(/^HTTP\/1.1 408 /);
    await stillServes();
  });

  it('finding 7: a silent connection and an idle keep-alive connection are closed', async () => {
    const silent = await rawExchange(() => undefined);
    expect(silent.ms).toBeLessThan(bounds.headersTimeoutMs + tolerance);
    const idle = await rawExchange((s) => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(idle.answer).toMatch(/^HTTP\/1.1 200 /);
    expect(idle.ms).toBeLessThan(bounds.keepAliveTimeoutMs + tolerance);
  });
});

describe('finding 10: nothing leaks through logs, /ready, ids or framework errors', () => {
  it('finding 10: ?token= and access_token= are redacted from logged URLs', async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    // Unknown parameters are refused by name (issue 8), and the refusal is logged redacted too.
    expect((await api(`/api/campaigns?token=${secret}&limit=5&access_token=${secret}`)).status).toBe(400);
    expect((await api(`/api/campaigns?limit=abc&TOKEN=${secret}`)).status).toBe(400);
    const lines = t.logs.filter((l) => l.msg === 'request' && String(l.url).startsWith('/api/campaigns?'));
    expect(lines.map((l) => l.url)).toEqual(
      expect.arrayContaining([
        '/api/campaigns?token=[redacted]&limit=5&access_token=[redacted]',
        '/api/campaigns?limit=abc&TOKEN=[redacted]',
      ]),
    );
    expect(JSON.stringify(t.logs)).not.toContain(secret);
  });

  it('finding 10: /ready shows its checks only to a token holder; anonymous callers get {status}', async () => {
    const anonymous = await fetch(`${t.url}/ready`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ready' });
    const wrong = await fetch(`${t.url}/ready`, { headers: { authorization: 'Bearer nope' } });
    expect(await wrong.json()).toEqual({ status: 'ready' });
    const operator = await api('/ready');
    expect(await operator.json()).toEqual({
      status: 'ready',
      service: 'command-api',
      checks: { nats: 'ok', postgres: 'ok' },
    });
  });

  it("finding 10: every service's ops server (packages/runtime) hides /ready details from anonymous callers", async () => {
    const ops = await startOpsServer({
      service: 'executor',
      registry: createMetricsRegistry('executor'),
      checks: { postgres: async () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:5432')) },
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      tokens: new Map([['ops-token', 'operator']]),
      httpBounds: bounds,
    });
    try {
      const anonymous = await fetch(`${ops.url}/ready`);
      expect(anonymous.status).toBe(503);
      const text = await anonymous.text();
      expect(JSON.parse(text)).toEqual({ status: 'not ready' });
      expect(text).not.toContain('10.1.2.3');
      const operator = await fetch(`${ops.url}/ready`, { headers: { authorization: 'Bearer ops-token' } });
      expect(await operator.json()).toEqual({
        status: 'not ready',
        service: 'executor',
        checks: { postgres: 'connect ECONNREFUSED 10.1.2.3:5432' },
      });
      // Its HTTP server is bounded in time like the API's.
      const started = Date.now();
      await new Promise<void>((resolve) => {
        const s = connect(Number(new URL(ops.url).port), '127.0.0.1', () => s.write('GET /ready HTTP/1.1\r\nX: '));
        s.resume(); // read the 408, so the close is seen
        s.on('error', () => undefined);
        s.on('close', () => resolve());
      });
      expect(Date.now() - started).toBeLessThan(bounds.headersTimeoutMs + tolerance);
    } finally {
      await ops.close();
    }
  });

  it('finding 10: a 10 KB or oddly spelled X-Correlation-Id is replaced by a fresh id, never stored as given', async () => {
    for (const given of ['c'.repeat(10 * 1024), 'a b<script>', 'nul\u0001x']) {
      const seq = await t.lastSeq();
      const res = await create('corr').then(async (r) => r); // baseline that headers work
      expect(res.status).toBe(201);
      const hostile = await postJson(
        '/api/campaigns',
        { name: 'corr-hostile', budget: { amount: 1, currency: 'EUR' } },
        { 'x-correlation-id': given.replace(/[^\x20-\x7e]/g, '?') },
      );
      expect(hostile.status).toBe(201);
      const used = hostile.headers.get('x-correlation-id') ?? '';
      expect(used).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      const { position } = (await hostile.json()) as { position: number };
      expect(position).toBe(seq + 2);
      const [commit] = await t.store.readAll({ after: position - 1, limit: 1 });
      expect(commit?.correlationId).toBe(used);
      expect(commit?.correlationId).not.toContain('ccc');
    }
    const kept = await postJson(
      '/api/campaigns',
      { name: 'corr-ok', budget: { amount: 1, currency: 'EUR' } },
      {
        'x-correlation-id': 'order-42:step.3',
      },
    );
    expect(kept.headers.get('x-correlation-id')).toBe('order-42:step.3');
    const { position } = (await kept.json()) as { position: number };
    expect((await t.store.readAll({ after: position - 1, limit: 1 }))[0]?.correlationId).toBe('order-42:step.3');
  });

  it("finding 10: fastify's 414, bad-URL, 404 and content-type errors are problem+json that echo no path", async () => {
    const marker = `zz${randomBytes(4).toString('hex')}`;
    const cases: [string, RequestInit, number, string][] = [
      [`/api/campaigns/${marker}${'x'.repeat(120)}`, {}, 400, '(path)'],
      [`/api/campaigns/${marker}%E0%A4%A`, {}, 400, '(path)'],
      [`/api/${marker}/nothing`, {}, 404, ''],
      [
        '/api/campaigns',
        { method: 'POST', body: marker, headers: { 'content-type': `text/${marker}` } },
        415,
        '(body)',
      ],
      [
        '/api/campaigns',
        { method: 'POST', body: `{"${marker}`, headers: { 'content-type': 'application/json' } },
        400,
        '(body)',
      ],
    ];
    for (const [path, init, status, field] of cases) {
      const res = await api(path, init);
      expect(res.status, path).toBe(status);
      const text = await res.text();
      expect(res.headers.get('content-type'), path).toContain('application/problem+json');
      const p = JSON.parse(text) as Problem;
      if (field) expect(fields(p), path).toEqual([field]);
      expect(p.instance).toMatch(/^urn:lightdom:request:/);
      expect(text, path).not.toContain(marker);
    }
    // A request head over Node's 16 KB limit: 431, problem+json, connection closed.
    const { answer } = await rawExchange((s) =>
      s.write(`GET /api/${marker}${'y'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
    );
    expect(answer).toMatch(/^HTTP\/1.1 431 /);
    expect(answer).toContain('application/problem+json');
    expect(answer).not.toContain(marker);
    await stillServes();
  });
});
