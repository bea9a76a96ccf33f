import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  repoRoot,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../observability/otlpReceiver.js';
import { readCompose } from './deployFiles.js';

/**
 * What the image runs: `npm run build`'s dist/ started with plain `node` (no tsx, no
 * `lightdom-src` condition, so every @lightdom/* import resolves to its built dist/ too).
 */
const TOKEN = 'dist-admin-token';
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let api: ChildProcess;
let output = '';
let url: string;
let otlp: OtlpReceiver;

/** The environment without anything that would load TypeScript sources. */
const plainEnv = () => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.VITEST;
  return env;
};

beforeAll(async () => {
  // Every service the image runs and the CLI, with their dependencies (turbo's `...`).
  const services = ['command-api', 'projector', 'executor', 'ai-worker', 'anchor', 'audit'];
  execFileSync('npx', ['turbo', 'run', 'build', ...services.map((s) => `--filter=@lightdom/${s}...`)], {
    cwd: repoRoot,
    stdio: 'ignore',
    env: plainEnv(),
  });
  [nats, pgEnv, otlp] = await Promise.all([
    createNatsTestEnv('distrun'),
    createPgTestEnv('distrun'),
    startOtlpReceiver(),
  ]);
  api = spawn(process.execPath, ['packages/command-api/dist/main.js'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...plainEnv(),
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      GRPC_PORT: '0',
      AMQP_PORT: '0',
      NATS_URL: testServers.natsUrl,
      EVENTS_STREAM: nats.stream,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      IDEMPOTENCY_BUCKET: nats.kvBucket,
      SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
      AMQP_STREAM: `${nats.stream}_AMQP`,
      AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
      AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_TOPO`,
      DATABASE_URL: pgEnv.databaseUrl,
      DB_SCHEMA: pgEnv.schema,
      REDIS_URL: testServers.redisUrl,
      REDIS_KEY_PREFIX: `${nats.id}:`,
      API_TOKENS: `${TOKEN}:deployer:admin`,
      // The OpenTelemetry SDK must be among the production dependencies the image holds.
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    },
  });
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`command-api (dist) did not listen:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('command-api listening'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    };
    api.stdout?.on('data', onData);
    api.stderr?.on('data', onData);
    api.once('exit', (code) => reject(new Error(`command-api (dist) exited ${code}:\n${output}`)));
  });
}, 300_000);

afterAll(async () => {
  if (api && api.exitCode === null) {
    const exited = new Promise((r) => api.once('exit', r));
    api.kill('SIGTERM');
    await exited;
  }
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup(), otlp?.close()]);
});

describe('the built dist/', () => {
  it('holds an entry point for every service and the CLI', () => {
    for (const p of ['command-api', 'projector', 'executor', 'ai-worker', 'anchor']) {
      expect(existsSync(path.join(repoRoot, 'packages', p, 'dist/main.js')), p).toBe(true);
    }
    expect(existsSync(path.join(repoRoot, 'packages/audit/dist/cli/lightdom.js'))).toBe(true);
    // Every program a compose container runs (the one-shot anchor-deploy included).
    for (const [name, s] of Object.entries(readCompose().services)) {
      if (!s.image?.startsWith('lightdom:') || s.command?.[1] === 'packages/dashboard/serve.mjs') continue;
      expect(existsSync(path.join(repoRoot, s.command?.[1] ?? '-')), `${name}: ${s.command?.join(' ')}`).toBe(true);
    }
  });

  it('runs command-api with plain node against the real NATS and Postgres: /health and /ready answer', async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', service: 'command-api' });
    const ready = await fetch(`${url}/ready`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await ready.json()) as { status: string };
    expect(body.status, JSON.stringify(body)).toBe('ready');
    expect(ready.status).toBe(200);
  });

  it('accepts a command from dist and writes it to the stream', async () => {
    const res = await fetch(`${url}/api/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'CreateCampaign',
        data: { name: 'from dist', budget: { amount: 100, currency: 'EUR' } },
      }),
    });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    const info = await nats.jsm.streams.info(nats.stream);
    expect(info.state.messages).toBeGreaterThan(0);
    // …and exports its spans over OTLP from the built code.
    await expect
      .poll(() => otlp.spans.filter((s) => s.service === 'command-api').map((s) => s.name), { timeout: 15_000 })
      .toEqual(expect.arrayContaining(['http CreateCampaign', 'commit CreateCampaign']));
  });

  it('`lightdom` (the npm bin) runs the built CLI', () => {
    const out = execFileSync(path.join(repoRoot, 'node_modules/.bin/lightdom'), ['--help'], {
      cwd: repoRoot,
      env: plainEnv(),
      encoding: 'utf8',
    });
    expect(out).toMatch(/lightdom audit verify/);
  });
});
