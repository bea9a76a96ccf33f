import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  repoRoot,
  testServers,
  uniqueId,
} from '@lightdom/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isLoopback, listeningSockets, processTree } from './listening.js';

/**
 * `npm start` with no configuration, on the shared servers but with names of its own, its own
 * data folder and every port shifted: it prints an admin token, refuses a request without it,
 * accepts one with it, and nothing it starts listens on a non-loopback address.
 */
const offset = 11_000 + Math.floor(Math.random() * 4000);
const apiPort = 3001 + offset;
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let dataDir: string;
let redisPrefix: string;
let start: ChildProcess;
let output = '';

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('npmstart'), createPgTestEnv('npmstart')]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lightdom-start-'));
  redisPrefix = `t:${uniqueId('npmstart')}:`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NO_COLOR: '1',
    LIGHTDOM_PORT_OFFSET: String(offset),
    LIGHTDOM_DATA_DIR: dataDir,
    LIGHTDOM_START_TIMEOUT_MS: '150000',
    NATS_URL: testServers.natsUrl,
    DATABASE_URL: testServers.databaseUrl,
    REDIS_URL: testServers.redisUrl,
    EVENTS_STREAM: nats.stream,
    EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
    IDEMPOTENCY_BUCKET: nats.kvBucket,
    SNAPSHOT_BUCKET: `${nats.kvBucket}_SNAP`,
    AMQP_STREAM: `${nats.stream}_AMQP`,
    AMQP_SUBJECT_PREFIX: `${nats.subjectPrefix}_amqp`,
    AMQP_TOPOLOGY_BUCKET: `${nats.kvBucket}_TOPO`,
    DB_SCHEMA: pgEnv.schema,
    REDIS_KEY_PREFIX: redisPrefix,
    REDIS_CHANNEL_PREFIX: redisPrefix,
    PROJECTOR_DURABLE: `p_${nats.id}`,
    EXECUTOR_DURABLE: `x_${nats.id}`,
    EXECUTOR_AI_DURABLE: `xa_${nats.id}`,
    AI_WORKER_DURABLE: `a_${nats.id}`,
    OLLAMA_URL: 'http://127.0.0.1:9',
  };
  // What `npm start` runs (tsx scripts/start.ts), without npm in between.
  start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  start.stdout!.on('data', (d) => (output += String(d)));
  start.stderr!.on('data', (d) => (output += String(d)));
  const deadline = Date.now() + 170_000;
  while (!output.includes('curl -X POST') && Date.now() < deadline) {
    if (start.exitCode !== null) break;
    await sleep(250);
  }
  if (!output.includes('curl -X POST')) throw new Error(`npm start did not come up:\n${output.slice(-4000)}`);
}, 180_000);

afterAll(async () => {
  if (start && start.exitCode === null) {
    start.kill('SIGTERM');
    for (let i = 0; i < 80 && start.exitCode === null; i++) await sleep(250);
    if (start.exitCode === null) start.kill('SIGKILL');
  }
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

const token = () => /authorization: Bearer ([A-Za-z0-9_-]{20,})'/.exec(output)?.[1];

it('prints a development admin token with a ready curl line, kept in .data/tokens (0600)', () => {
  const t = token();
  expect(t, output.slice(-3000)).toBeDefined();
  expect(output).toContain(`curl -H 'authorization: Bearer ${t}' http://127.0.0.1:${apiPort}/api/campaigns`);
  const file = path.join(dataDir, 'tokens');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  const text = fs.readFileSync(file, 'utf8');
  expect(text).toContain(`${t}:dev:admin`);
  expect(text).toMatch(/:executor:service/);
  expect(text).toMatch(/:ai-worker:service/);
  expect(text).toMatch(/:anchor:service/);
  // The token is never in a service's log line.
  expect(output.split('\n').filter((l) => l.includes(t!) && !/Bearer|^\s*start\s/.test(l))).toEqual([]);
});

it('refuses a command without the token (401) and accepts it with the token (201)', async () => {
  const body = JSON.stringify({ name: 'Spring', budget: { amount: 1000, currency: 'EUR' } });
  const url = `http://127.0.0.1:${apiPort}/api/campaigns`;
  const headers = { 'content-type': 'application/json' };
  const anonymous = await fetch(url, { method: 'POST', headers, body });
  expect(anonymous.status).toBe(401);
  const wrong = await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer nope' }, body });
  expect(wrong.status).toBe(401);
  const res = await fetch(url, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token()}` }, body });
  expect(res.status, await res.clone().text()).toBe(201);
});

it('listens on loopback addresses only, each port shifted by LIGHTDOM_PORT_OFFSET', () => {
  const sockets = listeningSockets(processTree(start.pid!));
  const ports = sockets.map((s) => s.port);
  // REST, gRPC and AMQP of the command-api, the ops port of each other service that runs, the
  // dashboard, the anchor service's ops port and the hardhat node npm start started.
  for (const p of [3001, 3003, 50051, 5673, 3000, 9470, 8545].map((p) => p + offset))
    expect(ports, `port ${p}`).toContain(p);
  expect(sockets.filter((s) => !isLoopback(s.address))).toEqual([]);
});

it('serves /metrics to a loopback caller', async () => {
  const res = await fetch(`http://127.0.0.1:${3003 + offset}/metrics`);
  expect(res.status).toBe(200);
});

it('serves the dashboard with a sign-in link, and passes /api through to the command-api', async () => {
  const dashboard = `http://localhost:${3000 + offset}/`;
  expect(output).toContain(`Dashboard: ${dashboard}`);
  const page = await fetch(`http://127.0.0.1:${3000 + offset}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(await page.text()).toMatch(/<div id="root">|<script type="module"/);
  const anonymous = await fetch(`http://127.0.0.1:${3000 + offset}/api/campaigns`);
  expect(anonymous.status).toBe(401);
  const signedIn = await fetch(`http://127.0.0.1:${3000 + offset}/api/campaigns`, {
    headers: { authorization: `Bearer ${token()}` },
  });
  expect(signedIn.status).toBe(200);
});

it('starts a local chain, deploys AuditAnchor once into the data folder, and runs the anchor service', async () => {
  const deployment = JSON.parse(fs.readFileSync(path.join(dataDir, 'chain', 'audit-anchor.json'), 'utf8')) as {
    contractAddress: string;
    chainId: number;
  };
  expect(deployment.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
  expect(deployment.chainId).toBe(31337);
  expect(fs.statSync(path.join(dataDir, 'chain', 'signer.key')).mode & 0o777).toBe(0o600);
  expect(output).toContain(`deployed AuditAnchor at ${deployment.contractAddress}`);
  const health = await fetch(`http://127.0.0.1:${9470 + offset}/health`);
  expect(health.status).toBe(200);
  const rpc = await fetch(`http://127.0.0.1:${8545 + offset}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'eth_getCode',
      params: [deployment.contractAddress, 'latest'],
    }),
  });
  expect(((await rpc.json()) as { result: string }).result).not.toBe('0x');
});

it('on SIGTERM stops the services and the hardhat node it started', async () => {
  const chainUrl = `http://127.0.0.1:${8545 + offset}`;
  const answers = async () =>
    fetch(chainUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    }).then(
      (r) => r.ok,
      () => false,
    );
  expect(await answers()).toBe(true);
  start.kill('SIGTERM');
  for (let i = 0; i < 160 && start.exitCode === null; i++) await sleep(250);
  expect(start.exitCode, output.slice(-2000)).toBe(0);
  expect(output).toContain('stopping the local chain');
  expect(await answers()).toBe(false);
  const dashboardGone = await fetch(`http://127.0.0.1:${3000 + offset}/`).then(
    () => false,
    () => true,
  );
  expect(dashboardGone).toBe(true);
}, 60_000);
