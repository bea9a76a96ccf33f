import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createNatsTestEnv,
  createPgTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type ServiceProcess,
  spawnService,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The stated bounds of the metric-label flood. Before the fix the same flood grew `/metrics`
 * by 50 MB and the process by about 400 MB, for good.
 */
const METRICS_GROWTH_LIMIT_BYTES = 16 * 1024;
const RSS_GROWTH_LIMIT_MB = 80;

const TOKEN = 'flood-token';
let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let proc: ServiceProcess;
let url: string;

const rssMb = (pid: number) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
};

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('edgeflood'), createPgTestEnv('edgeflood')]);
  proc = spawnService('command-api', {
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
    API_TOKENS: `${TOKEN}:flooder`,
    LOG_LEVEL: 'info',
  });
  const line = await proc.waitForLine(/command-api listening/, 30_000);
  url = (JSON.parse(line) as { url: string }).url;
}, 60_000);
afterAll(async () => {
  await proc?.kill('SIGKILL');
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

const metricsBytes = async () => Buffer.byteLength(await (await fetch(`${url}/metrics`)).text());
const badCommand = (type: string) =>
  fetch(`${url}/api/commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type, data: {} }),
  });

describe('finding 4: the metric-label flood', () => {
  it(`finding 4: 100 commands with unique 500 KB types grow /metrics by < 16 KB and the process by < ${RSS_GROWTH_LIMIT_MB} MB`, async () => {
    const pid = proc.child.pid as number;
    // Warm-up: the `unknown` series and the route's histogram exist, the JIT has run.
    for (let i = 0; i < 5; i++) expect((await badCommand(`warm-${i}`)).status).toBe(400);
    await metricsBytes();
    const seq = (await nats.jsm.streams.info(nats.stream)).state.last_seq;
    const metricsBefore = await metricsBytes();
    const rssBefore = rssMb(pid);

    for (let i = 0; i < 100; i++) {
      const type = `${i}-${randomBytes(16).toString('hex')}-${'t'.repeat(500 * 1024)}`;
      const res = await badCommand(type);
      expect(res.status).toBe(400);
      const body = await res.text();
      // The answer names the field and echoes at most a bounded prefix of the type.
      expect(body.length).toBeLessThan(4096);
      expect(JSON.parse(body).errors.map((e: { field: string }) => e.field)).toEqual(['type']);
    }
    await sleep(500);
    const metricsAfter = await metricsBytes();
    const rssAfter = rssMb(pid);
    console.log(
      `metrics ${metricsBefore} → ${metricsAfter} bytes; RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`,
    );

    expect(metricsAfter - metricsBefore).toBeLessThan(METRICS_GROWTH_LIMIT_BYTES);
    expect(rssAfter - rssBefore, `RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`).toBeLessThan(
      RSS_GROWTH_LIMIT_MB,
    );
    expect((await nats.jsm.streams.info(nats.stream)).state.last_seq).toBe(seq);
    // Still serving: a real command is accepted.
    const ok = await fetch(`${url}/api/campaigns`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after-flood', budget: { amount: 1, currency: 'EUR' } }),
    });
    expect(ok.status).toBe(201);
  }, 60_000);
});
