import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLightdomError } from '@lightdom/domain';
import { parseAllowList } from '@lightdom/executor';
import { createNatsTestEnv, createPgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../../packages/command-api/test/harness.js';
import {
  createExecutorHarness,
  type ExecutorHarness,
  type RunningExecutor,
} from '../../packages/executor/test/support/harness.js';
import { countingConnector, fixedResolver, startTarget, streamBytes } from './exec.support.js';

/**
 * Finding 2 (issue 7): SSRF that returns the answer. Every request goes to loopback; for
 * other addresses the tests show the refusal comes before any connection, through the
 * executor's injected connector (which would refuse to open a non-loopback socket anyway).
 */

const secret = `s3cr3t-${randomUUID()}`;
const answers = {
  'metadata.test': ['169.254.169.254'],
  'metadata6.test': ['fd00:ec2::254'],
  'rebind.test': ['93.184.216.34', '10.0.0.1'],
  'hooks.test': ['127.0.0.1'],
};

let target: Awaited<ReturnType<typeof startTarget>>;
let inner: Awaited<ReturnType<typeof startTarget>>;
let secretsDir: string;
/** Default policy: nothing private is allowed. */
let strict: { h: ExecutorHarness; ex: RunningExecutor; net: ReturnType<typeof countingConnector> };
/** Loopback allowed by configuration for the target server's port only. */
let allowed: {
  h: ExecutorHarness;
  ex: RunningExecutor;
  net: ReturnType<typeof countingConnector>;
  dns: ReturnType<typeof fixedResolver>;
};

async function withExecutor(allow: string) {
  const h = await createExecutorHarness('hxssrf');
  const net = countingConnector();
  const dns = fixedResolver(answers);
  const ex = await h.startExecutor(
    { http: { allow: parseAllowList(allow).entries, secretsDir, maxErrorBodyChars: 200 } },
    { egress: { connect: net.connect, resolve: dns.resolve } },
  );
  return { h, ex, net, dns };
}

beforeAll(async () => {
  secretsDir = await mkdtemp(join(tmpdir(), 'lightdom-secrets-'));
  await writeFile(join(secretsDir, 'N8N_TOKEN'), `${secret}\n`);
  inner = await startTarget((_req, res) => res.writeHead(200).end('inner reached'));
  target = await startTarget((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
    } else if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    } else if (url.pathname === '/auth') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    } else if (url.pathname === '/error') {
      res
        .writeHead(500, { 'content-type': 'text/plain' })
        .end(`${'e'.repeat(300)}WHOLE-BODY-MARKER${'e'.repeat(10_000)}`);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ hello: 'loopback' }));
    }
  });
  strict = await withExecutor('');
  allowed = await withExecutor(`127.0.0.1:${target.port}, hooks.test:${target.port}`);
});
afterAll(async () => {
  await strict?.h.cleanup();
  await allowed?.h.cleanup();
  await target?.close();
  await inner?.close();
  await rm(secretsDir, { recursive: true, force: true });
});

const oneStep = (input: Record<string, unknown>) => [{ id: 'call', type: 'http.request', input }];

describe('exec.ssrf: finding 2, egress policy', () => {
  it('finding 2: steps to 127.0.0.1, [::1], 10.0.0.1, 169.254.169.254 (and names resolving to metadata addresses) fail by default, before any connection', async () => {
    const cases = [
      [`http://127.0.0.1:${target.port}/`, 'is a loopback address (127.0.0.0/8)'],
      [`http://[::1]:${target.port}/`, 'is a loopback address (::1/128)'],
      ['http://10.0.0.1/admin', 'is a private address (10.0.0.0/8)'],
      ['http://169.254.169.254/latest/meta-data/', 'is a cloud metadata address (169.254.169.254/32)'],
      ['http://metadata.test/', 'metadata.test resolves to 169.254.169.254 is a cloud metadata address'],
      ['http://metadata6.test/', 'metadata6.test resolves to fd00:ec2::254 is a cloud metadata address'],
      ['http://rebind.test/', 'rebind.test resolves to 10.0.0.1 is a private address'],
      ['http://[::ffff:a9fe:a9fe]/', 'is a cloud metadata address (169.254.169.254/32)'],
    ] as const;
    const runs = await Promise.all(cases.map(([url]) => strict.h.requestRun(oneStep({ url }))));
    for (const [i, { runId }] of runs.entries()) {
      const state = await strict.h.waitForEnd(runId);
      expect(state.status).toBe('failed');
      expect(state.failure?.error).toContain('egress refused for');
      expect(state.failure?.error).toContain(cases[i]![1]);
      expect(state.failure?.error).toContain('unless HTTP_STEP_ALLOW lists it');
    }
    expect(strict.net.attempts).toEqual([]);
    expect(target.requests).toHaveLength(0);
  });

  it('finding 2: a loopback server redirecting to each of them fails the step with the reason; only the allowed server is connected to', async () => {
    const cases = [
      [`http://127.0.0.1:${inner.port}/`, 'is a loopback address (127.0.0.0/8)'],
      [`http://[::1]:${inner.port}/`, 'is a loopback address (::1/128)'],
      ['http://10.0.0.1/', 'is a private address (10.0.0.0/8)'],
      ['http://169.254.169.254/latest/meta-data/iam/', 'is a cloud metadata address (169.254.169.254/32)'],
      ['http://metadata6.test/', 'metadata6.test resolves to fd00:ec2::254'],
    ] as const;
    const before = allowed.net.attempts.length;
    const runs = await Promise.all(
      cases.map(([to]) =>
        allowed.h.requestRun(oneStep({ url: `${target.url}/redirect?to=${encodeURIComponent(to)}` })),
      ),
    );
    for (const [i, { runId }] of runs.entries()) {
      const state = await allowed.h.waitForEnd(runId);
      expect(state.status).toBe('failed');
      expect(state.failure?.error).toContain('egress refused for');
      expect(state.failure?.error).toContain(cases[i]![1]);
    }
    const attempts = allowed.net.attempts.slice(before);
    expect(attempts).toHaveLength(cases.length);
    expect(attempts.every((a) => a.address === '127.0.0.1' && a.port === target.port)).toBe(true);
    expect(inner.requests).toHaveLength(0);
    expect(target.requests.filter((r) => r.path.startsWith('/redirect?')).length).toBeGreaterThanOrEqual(cases.length);
  });

  it('finding 2: with loopback allowed by configuration a step to the loopback server succeeds, and a redirect from it to 10.0.0.1 is still refused before connecting', async () => {
    const ok = await allowed.h.requestRun(oneStep({ url: `${target.url}/hello` }));
    const okState = await allowed.h.waitForEnd(ok.runId);
    expect(okState.status).toBe('succeeded');
    expect(okState.stepStates.call?.output).toEqual({ status: 200, body: { hello: 'loopback' } });

    const before = allowed.net.attempts.length;
    const bad = await allowed.h.requestRun(oneStep({ url: `${target.url}/redirect?to=http://10.0.0.1:8080/x` }));
    const badState = await allowed.h.waitForEnd(bad.runId);
    expect(badState.failure?.error).toBe(
      'egress refused for http://10.0.0.1:8080: 10.0.0.1 is a private address (10.0.0.0/8); http.request steps may not call it unless HTTP_STEP_ALLOW lists it',
    );
    expect(allowed.net.attempts.slice(before).map((a) => `${a.address}:${a.port}`)).toEqual([
      `127.0.0.1:${target.port}`,
    ]);
  });

  it('finding 2: redirects are followed at most HTTP_STEP_MAX_REDIRECTS times', async () => {
    const { runId } = await allowed.h.requestRun(oneStep({ url: `${target.url}/loop` }));
    const state = await allowed.h.waitForEnd(runId);
    expect(state.failure?.error).toBe('more than 5 redirects (HTTP_STEP_MAX_REDIRECTS), last to /loop');
    expect(target.to('/loop')).toHaveLength(6);
  });

  it('finding 2: a name is resolved once per hop and the connection goes to the address that was checked', async () => {
    const before = { lookups: allowed.dns.lookups.length, attempts: allowed.net.attempts.length };
    const { runId } = await allowed.h.requestRun(oneStep({ url: `http://hooks.test:${target.port}/pinned` }));
    expect((await allowed.h.waitForEnd(runId)).status).toBe('succeeded');
    expect(allowed.dns.lookups.slice(before.lookups)).toEqual(['hooks.test']);
    expect(allowed.net.attempts.slice(before.attempts)).toEqual([
      { address: '127.0.0.1', family: 4, port: target.port, tls: false },
    ]);
    expect(target.to('/pinned')[0]?.headers.host).toBe(`hooks.test:${target.port}`);
  });

  it('finding 2: an error body is quoted as a short prefix, never whole, in the event and the logs', async () => {
    const { runId } = await allowed.h.requestRun(oneStep({ url: `${target.url}/error` }));
    const state = await allowed.h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toBe(`HTTP 500 from GET ${target.url}/error: ${'e'.repeat(200)} […]`);
    expect(allowed.ex.logs.join('\n')).not.toContain('WHOLE-BODY-MARKER');
    expect((await streamBytes(allowed.h.env)).includes('WHOLE-BODY-MARKER')).toBe(false);
  });
});

describe('exec.ssrf: finding 2, credentials by name', () => {
  it('finding 2: a {"secret": NAME} header is sent to the target but never recorded in the stream or the logs', async () => {
    const { runId } = await allowed.h.requestRun(
      oneStep({ url: `${target.url}/auth`, headers: { authorization: { secret: 'N8N_TOKEN' }, 'x-trace': 'plain' } }),
    );
    expect((await allowed.h.waitForEnd(runId)).status).toBe('succeeded');
    expect(target.to('/auth')[0]?.headers).toMatchObject({ authorization: secret, 'x-trace': 'plain' });
    for (const ex of [allowed.ex, strict.ex]) expect(ex.logs.join('\n')).not.toContain(secret);
    for (const h of [allowed.h, strict.h]) expect((await streamBytes(h.env)).includes(secret)).toBe(false);
  });

  it('finding 2: a credential header is dropped when a redirect leaves the origin', async () => {
    const to = `http://hooks.test:${target.port}/auth-elsewhere`;
    const { runId } = await allowed.h.requestRun(
      oneStep({
        url: `${target.url}/redirect?to=${encodeURIComponent(to)}`,
        headers: { authorization: { secret: 'N8N_TOKEN' } },
      }),
    );
    expect((await allowed.h.waitForEnd(runId)).status).toBe('succeeded');
    expect(target.to(`/redirect?to=${encodeURIComponent(to)}`)[0]?.headers.authorization).toBe(secret);
    const landed = target.to('/auth-elsewhere')[0];
    expect(landed).toBeDefined();
    expect(landed?.headers.authorization).toBeUndefined();
  });

  it('finding 2: an unknown secret fails the step for good, naming the secret, without calling the target', async () => {
    const calls = target.requests.length;
    const { runId } = await allowed.h.requestRun([
      {
        id: 'call',
        type: 'http.request',
        input: { url: `${target.url}/auth`, headers: { 'x-api-key': { secret: 'NO_SUCH_TOKEN' } } },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const state = await allowed.h.waitForEnd(runId);
    expect(state.failure?.error).toBe(
      'secret NO_SUCH_TOKEN is not configured: no readable file NO_SUCH_TOKEN in EXECUTOR_SECRETS_DIR (ENOENT)',
    );
    expect(await allowed.h.stepStarts(runId)).toEqual({ 'call:1': 1 });
    expect(target.requests.length).toBe(calls);
  });

  it('finding 2: a literal credential header (or a URL with a password) is refused when the run is requested, naming the field; the stream is unmoved', async () => {
    const { h } = strict;
    const head = async () => (await h.env.jsm.streams.info(h.env.stream)).state.last_seq;
    const before = await head();
    const request = (input: Record<string, unknown>) =>
      h.commands
        .handle(
          {
            type: 'RequestWorkflowRun',
            data: { workflowId: 'wf', definitionVersion: 1, steps: oneStep(input) },
          },
          { actor: 'tester', correlationId: 'c', causationId: 'c' },
        )
        .then(
          () => null,
          (err: unknown) => err,
        );
    for (const [input, field] of [
      [{ url: 'https://n8n.example/hook', headers: { Authorization: 'Bearer abc' } }, 'Authorization'],
      [{ url: 'https://n8n.example/hook', headers: { cookie: 'sid=1' } }, 'cookie'],
      [{ url: 'https://n8n.example/hook', headers: { 'X-API-Key': 'k' } }, 'X-API-Key'],
      [{ url: 'https://n8n.example/hook', headers: { 'x-n8n-token': 't' } }, 'x-n8n-token'],
    ] as const) {
      const err = await request(input);
      expect(isLightdomError(err, 'VALIDATION_FAILED')).toBe(true);
      expect((err as { issues: { field: string; message: string }[] }).issues).toContainEqual({
        field: `data.steps.0.input.headers.${field}`,
        message: 'is a credential: reference a secret by name, e.g. {"secret": "N8N_TOKEN"}, not a literal value',
      });
    }
    const url = await request({ url: 'https://user:pw@n8n.example/hook' });
    expect((url as { issues: { field: string }[] }).issues).toContainEqual(
      expect.objectContaining({ field: 'data.steps.0.input.url' }),
    );
    expect(await head()).toBe(before);
    // Still serving: a step referencing a secret is accepted.
    expect(
      await request({ url: 'https://n8n.example/hook', headers: { authorization: { secret: 'N8N_TOKEN' } } }),
    ).toBeNull();
  });
});

describe('exec.ssrf: finding 2, literal credentials at the HTTP edge', () => {
  it('finding 2: DefineWorkflow with a literal authorization header answers 400 problem+json naming the field; the stream is unmoved and the API keeps serving', async () => {
    const [nats, pg] = await Promise.all([createNatsTestEnv('hxcred'), createPgTestEnv('hxcred')]);
    const api = await buildTestApp(nats, pg);
    try {
      const define = (headers: Record<string, unknown>) =>
        api.app.inject({
          method: 'POST',
          url: '/api/commands',
          headers: { 'content-type': 'application/json' },
          payload: {
            type: 'DefineWorkflow',
            data: { name: 'notify', steps: oneStep({ url: 'https://n8n.example/webhook/x', headers }) },
          },
        });
      const head = await api.store.headPosition();
      const res = await define({ authorization: 'Bearer literal-token' });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = res.json();
      expect(problem).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(problem.errors).toContainEqual({
        field: 'data.steps.0.input.headers.authorization',
        message: 'is a credential: reference a secret by name, e.g. {"secret": "N8N_TOKEN"}, not a literal value',
      });
      expect(res.body).not.toContain('literal-token');
      expect(await api.store.headPosition()).toBe(head);
      const ok = await define({ authorization: { secret: 'N8N_TOKEN' } });
      expect(ok.statusCode).toBe(201);
    } finally {
      await api.close();
      await Promise.all([nats.cleanup(), pg.cleanup()]);
    }
  });
});
