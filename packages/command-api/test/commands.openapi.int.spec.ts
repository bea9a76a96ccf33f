import { Parser } from '@asyncapi/parser';
import { eventVersions } from '@lightdom/domain';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from './harness.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;
/** Every route fastify registered, as `METHOD /path`. */
const routes: { method: string; url: string }[] = [];

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('openapi'), createPgTestEnv('openapi')]);
  t = await buildTestApp(nats, pgEnv, {
    tokens: 'doc-token:doc:reader',
    onRoute: (r) => {
      for (const m of [r.method].flat()) routes.push({ method: m, url: r.url });
    },
  });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document with a bearer security scheme', async () => {
    const res = await t.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const result = await validate(structuredClone(doc));
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it('describes every route fastify registered (the docs page its own assets aside)', async () => {
    const doc = (await t.app.inject('/openapi.json')).json();
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    const registered = routes
      // HEAD routes are fastify's automatic twins of GETs; /docs/* is Swagger UI's page itself.
      .filter((r) => r.method !== 'HEAD' && !r.url.startsWith('/docs'))
      .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(registered.length).toBeGreaterThan(15);
    expect(registered).toEqual(expect.arrayContaining(['POST /api/workflows/{id}/runs', 'GET /ws', 'GET /health']));
    expect(registered.filter((r) => !documented.has(r))).toEqual([]);
    // The route's own zod schema is what the document says: the run body refuses steps.
    const runBody = doc.paths['/api/workflows/{id}/runs'].post.requestBody.content['application/json'].schema;
    expect(runBody.additionalProperties).toBe(false);
    expect(Object.keys(runBody.properties).sort()).toEqual(['definitionVersion', 'idempotencyKey', 'input', 'source']);
    expect(doc.paths['/health'].get.security).toEqual([]);
  });

  it('serves a docs page at /docs from node_modules', async () => {
    const res = await t.app.inject('/docs/');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('swagger-ui');
    expect(res.body).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost)[^"']*\.js/);
  });
});

describe('problem types', () => {
  it("resolve to this API's page on the code", async () => {
    const problem = (await t.app.inject({ method: 'POST', url: '/api/commands', payload: {} })).json();
    expect(problem.type).toBe('/problems/unauthorized');
    const page = await t.app.inject(problem.type);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<h1>UNAUTHORIZED</h1>');
    expect(page.body).toContain('HTTP 401');
    expect((await t.app.inject('/problems/no-such-code')).statusCode).toBe(404);
  });
});

describe('/asyncapi.json', () => {
  it('parses as AsyncAPI 3 and names every event type of the catalogue on every channel', async () => {
    const res = await t.app.inject('/asyncapi.json');
    expect(res.statusCode).toBe(200);
    const { document, diagnostics } = await new Parser().parse(res.body);
    expect(diagnostics.filter((d) => d.severity === 0).map((d) => d.message)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    const messages =
      document
        ?.components()
        .messages()
        .all()
        .map((m) => m.id()) ?? [];
    expect(messages.sort()).toEqual(Object.keys(eventVersions).sort());
    const channels =
      document
        ?.channels()
        .all()
        .map((c) => c.id()) ?? [];
    expect(channels.sort()).toEqual(['amqpEvents', 'redisEvents', 'ws']);
    for (const id of ['amqpEvents', 'redisEvents']) {
      const channel = document?.channels().get(id);
      expect(channel?.messages().all().length).toBe(Object.keys(eventVersions).length);
    }
  });
});
