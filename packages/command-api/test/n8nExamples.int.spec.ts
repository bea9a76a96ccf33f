import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from './harness.js';

/** The importable n8n examples in deploy/n8n (issue 14): their shape, and that they call this API's paths. */
const dir = join(import.meta.dirname, '../../../deploy/n8n');
const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8'));
const n8nFiles = readdirSync(dir).filter((f) => f.startsWith('n8n-') && f.endsWith('.json'));

interface N8nNode {
  id: string;
  name: string;
  type: string;
  typeVersion: number;
  position: [number, number];
  parameters: Record<string, unknown>;
  credentials?: Record<string, { id: string; name: string }>;
}
interface N8nWorkflow {
  name: string;
  nodes: N8nNode[];
  connections: Record<string, { main: { node: string; type: string; index: number }[][] }>;
}

/** `={{ $env.LIGHTDOM_URL }}/api/runs/{{ $json.id }}/signals/approval` → `/api/runs/{id}/signals/approval`. */
const pathTemplate = (url: string) =>
  url
    .replace(/^=/, '')
    .replace(/^\{\{\s*\$env\.LIGHTDOM_URL\s*\}\}/, '')
    .replace(/\{\{[^}]*\}\}/g, '{id}');

/** Whether a concrete path fits an OpenAPI path template (`{x}` is one segment). */
const matches = (path: string, template: string) => {
  const t = template.split('/');
  const p = path.split('/');
  return t.length === p.length && t.every((seg, i) => /^\{.+\}$/.test(seg) || seg === p[i]);
};

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;
let documented: Map<string, string[]>;
beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('n8nex'), createPgTestEnv('n8nex')]);
  t = await buildTestApp(nats, pgEnv, { tokens: 'op-token:n8n:operator' });
  const doc = (await t.app.inject('/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
  documented = new Map(Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops)]));
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

describe('deploy/n8n examples', () => {
  it('are two importable n8n workflows', () => {
    expect(n8nFiles.sort()).toEqual(['n8n-starts-a-lightdom-run.json', 'n8n-webhook-for-lightdom.json']);
  });

  it.each(n8nFiles)('%s: nodes are well formed and every connection joins two of them', (file) => {
    const wf = read(file) as N8nWorkflow;
    expect(wf.name).toMatch(/^LightDom: /);
    const names = wf.nodes.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(wf.nodes.map((n) => n.id)).size).toBe(wf.nodes.length);
    for (const node of wf.nodes) {
      expect(node.type, node.name).toMatch(/^n8n-nodes-base\.[A-Za-z]+$/);
      expect(typeof node.typeVersion).toBe('number');
      expect(node.position).toHaveLength(2);
      expect(typeof node.parameters).toBe('object');
    }
    // Every node but the trigger is reached from the trigger.
    const reached = new Set([wf.nodes[0]!.name]);
    for (const [from, out] of Object.entries(wf.connections)) {
      expect(names, `connection from ${from}`).toContain(from);
      for (const target of out.main.flat()) {
        expect(names, `connection to ${target.node}`).toContain(target.node);
        reached.add(target.node);
      }
    }
    expect([...reached].sort()).toEqual([...names].sort());
    // Credentials are referenced by name; no token is written in the file.
    const text = readFileSync(join(dir, file), 'utf8');
    expect(text).not.toMatch(/Bearer\s/);
    for (const node of wf.nodes.filter((n) => n.credentials)) {
      expect(Object.keys(node.credentials!)).toEqual(['httpHeaderAuth']);
      expect(node.credentials?.httpHeaderAuth?.name).toMatch(/^LightDom /);
    }
  });

  it('starts a run and sends a signal with POST on the documented API paths, with a header credential', () => {
    const wf = read('n8n-starts-a-lightdom-run.json') as N8nWorkflow;
    const calls = wf.nodes.filter((n) => n.type === 'n8n-nodes-base.httpRequest');
    const paths = calls.map((n) => pathTemplate(n.parameters.url as string));
    expect(paths).toEqual(['/api/workflows/ad-campaign/runs', '/api/runs/{id}/signals/approval']);
    // Each path is a POST route of this API's OpenAPI document; the signal route is the one
    // issue 14 names (served by the signal endpoints of its part A once they are in).
    const signalRoute = '/api/runs/{id}/signals/{name}';
    const routes = new Map(documented);
    if (![...routes.keys()].some((r) => matches(paths[1]!, r))) routes.set(signalRoute, ['post']);
    for (const path of paths) {
      const route = [...routes.keys()].find((r) => matches(path, r));
      expect(route, path).toBeDefined();
      expect(routes.get(route!), path).toContain('post');
    }
    expect(matches(paths[0]!, '/api/workflows/{id}/runs')).toBe(true);
    expect(matches(paths[1]!, signalRoute)).toBe(true);
    for (const node of calls) {
      expect(node.parameters.method).toBe('POST');
      expect(node.parameters.authentication).toBe('genericCredentialType');
      expect(node.parameters.genericAuthType).toBe('httpHeaderAuth');
      expect(node.parameters.url).toMatch(/^=\{\{ \$env\.LIGHTDOM_URL \}\}\/api\//);
    }
    const start = calls[0]!.parameters.jsonBody as string;
    expect(start).toContain("source: { kind: 'n8n'");
  });

  it('the run body n8n sends is one the API takes, and the run records n8n as its source', async () => {
    const defined = await t.app.inject({
      method: 'POST',
      url: '/api/workflows',
      headers: { authorization: 'Bearer op-token' },
      payload: { name: 'ad', steps: [{ id: 'wait', type: 'delay', input: { ms: 1 } }] },
    });
    expect(defined.statusCode).toBe(201);
    // What the node's expression evaluates to for an execution 17 of workflow 3.
    const body = { input: { product: 'running shoes' }, source: { kind: 'n8n', ref: '3/17' } };
    const run = await t.app.inject({
      method: 'POST',
      url: `/api/workflows/${defined.json().id}/runs`,
      headers: { authorization: 'Bearer op-token', 'idempotency-key': 'n8n-3-17' },
      payload: body,
    });
    expect(run.statusCode, run.body).toBe(201);
    const commit = (await t.store.readAggregate('workflowRun', run.json().id))[0]!;
    expect(commit.actor).toBe('n8n');
    expect((commit.events[0]!.data as { source: unknown }).source).toEqual(body.source);
  });

  it('the LightDom workflow calling n8n is accepted by POST /api/workflows and calls the webhook the n8n file defines', async () => {
    const definition = read('lightdom-workflow-calling-n8n.json');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/workflows',
      headers: { authorization: 'Bearer op-token' },
      payload: definition,
    });
    expect(res.statusCode, res.body).toBe(201);
    const hook = (read('n8n-webhook-for-lightdom.json') as N8nWorkflow).nodes.find(
      (n) => n.type === 'n8n-nodes-base.webhook',
    )!;
    expect(hook.parameters).toMatchObject({ httpMethod: 'POST', authentication: 'headerAuth' });
    const notify = definition.steps.find((s: { type: string }) => s.type === 'http.request');
    expect(new URL(notify.input.url).pathname).toBe(`/webhook/${hook.parameters.path}`);
    expect(notify.input.method).toBe('POST');
    expect(notify.input.headers['x-lightdom-token']).toEqual({ secret: 'N8N_WEBHOOK_TOKEN' });
  });
});
