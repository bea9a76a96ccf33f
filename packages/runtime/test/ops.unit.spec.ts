import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hostConfig } from '../src/configPieces.js';
import { Fastify } from '../src/fastify.js';
import { createTokenRegistry, type TokenRegistry } from '../src/identity.js';
import { createMetricsRegistry } from '../src/metrics.js';
import { isLoopbackAddress, registerOpsRoutes } from '../src/ops.js';

const registry = createTokenRegistry([
  { token: 'tok-reader', identity: { actor: 'prometheus', role: 'reader' } },
  { token: 'tok-admin', identity: { actor: 'alice', role: 'admin' } },
]);

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An ops app on no socket (fastify.inject); its log lines are collected. */
async function opsApp(tokens: TokenRegistry | ReadonlyMap<string, string>, failing = false) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  app = Fastify({ loggerInstance: pino({ level: 'info' }, sink) }) as unknown as FastifyInstance;
  registerOpsRoutes(app, {
    service: 'test',
    registry: createMetricsRegistry('test'),
    checks: { nats: async () => (failing ? Promise.reject(new Error('nats://10.1.2.3:4222 refused')) : 'ok') },
    tokens,
  });
  await app.ready();
  return { app, lines };
}

const get = (url: string, remoteAddress: string, token?: string) =>
  app!.inject({ method: 'GET', url, remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('ops routes with the token registry', () => {
  it('answers /metrics to a loopback peer, and to any valid token from elsewhere; 401 otherwise', async () => {
    await opsApp(registry);
    for (const peer of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.8.9.10']) {
      const res = await get('/metrics', peer);
      expect(res.statusCode, peer).toBe(200);
      expect(res.body).toContain('lightdom_process_cpu');
    }
    // Behind nginx or a Kubernetes Service the peer is not loopback: a token (any role) opens it.
    expect((await get('/metrics', '10.0.0.7', 'tok-reader')).statusCode).toBe(200);
    expect((await get('/metrics', '10.0.0.7', 'tok-admin')).statusCode).toBe(200);
    for (const token of [undefined, 'wrong', '']) {
      const res = await get('/metrics', '10.0.0.7', token);
      expect(res.statusCode, String(token)).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      expect(res.body).not.toContain('lightdom_');
    }
    // A forwarded header is the client's word, not the peer: it opens nothing.
    const forged = await app!.inject({
      method: 'GET',
      url: '/metrics',
      remoteAddress: '10.0.0.7',
      headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' },
    });
    expect(forged.statusCode).toBe(401);
  });

  it('keeps /health and /ready open, /ready details only for token holders', async () => {
    await opsApp(registry, true);
    expect((await get('/health', '10.0.0.7')).statusCode).toBe(200);
    const anonymous = await get('/ready', '127.0.0.1');
    expect(anonymous.statusCode).toBe(503);
    expect(anonymous.json()).toEqual({ status: 'not ready' });
    const holder = await get('/ready', '10.0.0.7', 'tok-reader');
    expect(holder.json()).toMatchObject({ status: 'not ready', checks: { nats: 'nats://10.1.2.3:4222 refused' } });
    expect((await get('/ready', '10.0.0.7', 'wrong')).json()).toEqual({ status: 'not ready' });
  });

  it('with AUTH=off opens everything and says so loudly at start', async () => {
    const { lines } = await opsApp(createTokenRegistry([], false));
    expect((await get('/metrics', '10.0.0.7')).statusCode).toBe(200);
    expect(lines.join('')).toMatch(/"level":40.*AUTHENTICATION IS OFF \(AUTH=off\)/);
  });

  it('with tokens on says nothing about AUTH=off, and an empty registry refuses remote /metrics', async () => {
    const { lines } = await opsApp(createTokenRegistry([]));
    expect(lines.join('')).not.toContain('AUTHENTICATION IS OFF');
    expect((await get('/metrics', '10.0.0.7')).statusCode).toBe(401);
    expect((await get('/metrics', '127.0.0.1')).statusCode).toBe(200);
  });

  it('still accepts the old token → actor Map while services move to the registry', async () => {
    await opsApp(new Map([['old-token', 'ops']]));
    expect((await get('/metrics', '10.0.0.7', 'old-token')).statusCode).toBe(200);
    expect((await get('/metrics', '10.0.0.7')).statusCode).toBe(401);
  });
});

describe('secure defaults', () => {
  it('listens on loopback unless HOST says otherwise', () => {
    expect(z.object(hostConfig).parse({}).HOST).toBe('127.0.0.1');
    expect(z.object(hostConfig).parse({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('recognises loopback peers only', () => {
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.2'].every(isLoopbackAddress)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '', undefined, '1127.0.0.1'].some(isLoopbackAddress)).toBe(
      false,
    );
  });
});
