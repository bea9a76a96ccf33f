import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createApplication } from '@lightdom/app';
import { runCli } from '@lightdom/audit';
import type { Identity } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv, spawnService } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnchorClient,
  createAnchorClient,
  createCheckpointer,
  deployAuditAnchor,
  ensureLocalChain,
  hardhatDevKey,
  type LocalChain,
  merkleRoot,
  readRange,
  readRecordedCheckpoints,
  verifyLogAgainstChain,
  waitUntilAnchored,
} from '../src/index.js';
import { createChainProxy, freePort } from './chainProxy.js';

const operator: Identity = { actor: 'alice', role: 'operator' };
const anchorService: Identity = { actor: 'anchor', role: 'service' };
const ctx = () => ({ correlationId: randomUUID(), causationId: randomUUID() });

let env: NatsTestEnv;
let store: EventStore;
let chain: LocalChain;
let proxy: Awaited<ReturnType<typeof createChainProxy>>;
let client: AnchorClient;
let app: ReturnType<typeof createApplication>;
let contractAddress: string;

beforeAll(async () => {
  env = await createNatsTestEnv('anchor');
  store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  app = createApplication({
    commands: createCommandHandler({ store }),
    store,
    tokens: createTokenRegistry([{ token: 'tok-anchor', identity: anchorService }]),
  });
  chain = await ensureLocalChain({
    port: await freePort(),
    hardhatDir: fileURLToPath(new URL('../../../contracts/', import.meta.url)),
    hardhatBin: fileURLToPath(new URL('../../../node_modules/.bin/hardhat', import.meta.url)),
  });
  expect(chain.started).toBe(true);
  ({ contractAddress } = await deployAuditAnchor({ rpcUrl: chain.rpcUrl, signerKey: hardhatDevKey }));
  proxy = await createChainProxy(Number(new URL(chain.rpcUrl).port));
  client = createAnchorClient({
    rpcUrl: proxy.url,
    contractAddress,
    signerKey: hardhatDevKey,
    confirmations: 1,
    timeoutMs: 10_000,
    attempts: 1,
  });
}, 90_000);

afterAll(async () => {
  client?.destroy();
  await proxy?.close();
  await chain?.stop();
  await env?.cleanup();
});

const createCampaigns = async (n: number) => {
  for (let i = 0; i < n; i++) {
    await app.submit(
      operator,
      { type: 'CreateCampaign', data: { name: `c${i}`, budget: { amount: 100, currency: 'EUR' } } },
      ctx(),
    );
  }
};

describe('the checkpoint job against a real hardhat node', () => {
  const checkpointer = () =>
    createCheckpointer({
      store,
      chain: client,
      every: 3,
      intervalMs: 60_000,
      submit: (command) => app.submit(app.authenticate({ token: 'tok-anchor' }), command, ctx()),
    });

  it('records and anchors contiguous checkpoints whose roots match the log and the contract', async () => {
    const job = checkpointer();
    await createCampaigns(2);
    expect((await job.tick()).recorded).toBe(0); // 2 commits wait, fewer than every = 3
    await createCampaigns(1);
    expect(await job.tick()).toMatchObject({ recorded: 1, anchored: 1, pending: 0 });
    await createCampaigns(4);
    expect(await job.tick()).toMatchObject({ recorded: 1, anchored: 1, pending: 0 });
    const recorded = await readRecordedCheckpoints(store);
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    expect(recorded[0]!.fromPosition).toBe(1);
    for (const [i, cp] of recorded.entries()) {
      if (i > 0) expect(cp.fromPosition).toBe(recorded[i - 1]!.toPosition + 1);
      expect(cp.anchored).not.toBeNull();
      const commits = await readRange(store, cp.fromPosition, cp.toPosition);
      expect(merkleRoot(commits.map((c) => c.hash))).toBe(cp.merkleRoot);
      const onChain = await client.checkpoint(i);
      expect(onChain).toMatchObject({
        fromPosition: cp.fromPosition,
        toPosition: cp.toPosition,
        merkleRoot: cp.merkleRoot,
      });
    }
    // A second run of the job (a restart) sends nothing: the same range is never anchored twice.
    const again = await createAnchorClient({ rpcUrl: chain.rpcUrl, contractAddress }).anchoredEvents();
    expect(again.length).toBe(recorded.length);
    const first = recorded[0]!;
    const repeat = await client.anchorRange(first);
    expect(repeat).toMatchObject({ already: true, transactionHash: first.anchored!.transactionHash });
    // What the executor's chain.anchor step waits on.
    expect(await waitUntilAnchored(store, 2, { timeoutMs: 100 })).toMatchObject({ id: first.id });
    expect(await waitUntilAnchored(store, 10_000, { timeoutMs: 50, pollMs: 10 })).toBeUndefined();
  }, 60_000);

  it('keeps commands and checkpoints going while the chain is down, and anchors each pending one once, in order, when it returns', async () => {
    const job = checkpointer();
    await job.tick();
    const before = (await client.anchoredEvents()).length;
    await proxy.close();
    for (let round = 0; round < 3; round++) {
      await createCampaigns(3); // commands succeed: nothing in their path needs the chain
      const r = await job.tick();
      expect(r.anchored).toBe(0);
    }
    expect(job.chainAvailable).toBe(false);
    const waiting = (await readRecordedCheckpoints(store)).filter((c) => !c.anchored);
    expect(waiting.length).toBeGreaterThanOrEqual(2);
    await proxy.open();
    for (let i = 0; i < 3; i++) await job.tick();
    const events = await createAnchorClient({ rpcUrl: chain.rpcUrl, contractAddress }).anchoredEvents();
    const recorded = await readRecordedCheckpoints(store);
    expect(recorded.every((c) => c.anchored)).toBe(true);
    expect(events.length).toBe(recorded.length);
    expect(events.length).toBeGreaterThanOrEqual(before + waiting.length);
    expect(events.map((e) => [e.fromPosition, e.toPosition, e.merkleRoot])).toEqual(
      recorded.map((c) => [c.fromPosition, c.toPosition, c.merkleRoot]),
    );
    expect(new Set(events.map((e) => e.fromPosition)).size).toBe(events.length);
  }, 90_000);

  it('anchors the whole history again on a contract that lost it (a restarted local chain), in order, once', async () => {
    const fresh = await deployAuditAnchor({ rpcUrl: chain.rpcUrl, signerKey: hardhatDevKey });
    const freshClient = createAnchorClient({
      rpcUrl: chain.rpcUrl,
      contractAddress: fresh.contractAddress,
      signerKey: hardhatDevKey,
      confirmations: 1,
    });
    try {
      const recorded = (await readRecordedCheckpoints(store)).filter((c) => c.anchored);
      expect(recorded.length).toBeGreaterThanOrEqual(3);
      const job = createCheckpointer({
        store,
        chain: freshClient,
        every: 1_000,
        intervalMs: 60_000,
        submit: (command) => app.submit(app.authenticate({ token: 'tok-anchor' }), command, ctx()),
      });
      expect((await job.tick()).restored).toBe(recorded.length);
      expect((await job.tick()).restored).toBe(0); // once: the next tick finds them on chain
      const events = await freshClient.anchoredEvents();
      expect(events.map((e) => [e.fromPosition, e.toPosition, e.merkleRoot])).toEqual(
        recorded.map((c) => [c.fromPosition, c.toPosition, c.merkleRoot]),
      );
      expect(await verifyLogAgainstChain(store, freshClient)).toMatchObject({ ok: true, problems: [] });
    } finally {
      freshClient.destroy();
    }
  }, 60_000);

  describe('the lightdom CLI against the anchored checkpoints', () => {
    const cli = async (args: string[]) => {
      const out = new PassThrough();
      const err = new PassThrough();
      let stdout = '';
      let stderr = '';
      out.on('data', (d) => (stdout += d));
      err.on('data', (d) => (stderr += d));
      const code = await runCli(
        args,
        {
          NATS_URL: 'nats://127.0.0.1:4222',
          EVENTS_STREAM: env.stream,
          EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
          CHAIN_RPC_URL: chain.rpcUrl,
          AUDIT_ANCHOR_ADDRESS: contractAddress,
        },
        { stdout: out, stderr: err, isTTY: false },
      );
      return { code, stdout, stderr };
    };

    it('audit verify --chain passes on the untouched log', async () => {
      const r = await cli(['audit', 'verify', '--chain']);
      expect(r.stdout).toMatch(/chain result: OK/);
      expect(r.code).toBe(0);
    }, 30_000);

    it('an export with one byte changed in one commit fails the chain check, naming the range and the position', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'anchor-'));
      const file = join(dir, 'log.ndjson');
      expect((await cli(['audit', 'export', '--out', file])).code).toBe(0);
      expect((await cli(['audit', 'verify', '--file', file, '--chain'])).code).toBe(0);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      const [cp] = await readRecordedCheckpoints(store);
      const target = cp!.fromPosition + 1; // a commit inside the first anchored range
      const i = lines.findIndex((l) => JSON.parse(l).position === target);
      lines[i] = lines[i]!.replace('"name":"c', '"name":"d'); // one byte of the campaign's name
      expect(() => JSON.parse(lines[i]!)).not.toThrow(); // still a well-formed line
      await writeFile(file, `${lines.join('\n')}\n`);
      const r = await cli(['audit', 'verify', '--file', file, '--chain']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`range ${cp!.fromPosition}..${cp!.toPosition}, position ${target}`);
      expect(r.stdout).toMatch(/chain result: FAILED/);
    }, 30_000);

    it('a proof verifies offline and on chain; the same proof with its commit changed does not', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'anchor-'));
      const proved = await cli(['audit', 'prove', '2']);
      expect(proved.code).toBe(0);
      const proof = JSON.parse(proved.stdout);
      expect(proof).toMatchObject({ format: 'lightdom-audit-proof/1', position: 2, chain: { contractAddress } });
      const good = join(dir, 'proof.json');
      await writeFile(good, proved.stdout);
      expect((await cli(['audit', 'check-proof', good])).code).toBe(0);
      expect((await cli(['audit', 'check-proof', good, '--chain'])).stdout).toMatch(/OK.*contract anchors/);
      const forged = { ...proof, commit: { ...proof.commit, actor: 'mallory' } };
      const bad = join(dir, 'forged.json');
      await writeFile(bad, JSON.stringify(forged));
      const r = await cli(['audit', 'check-proof', bad]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/FAILED/);
      // Re-hashing the forged commit does not help: the path then leads to another root.
      const { hashCommit } = await import('@lightdom/eventstore');
      await writeFile(bad, JSON.stringify({ ...forged, commitHash: hashCommit(forged.commit) }));
      expect((await cli(['audit', 'check-proof', bad])).stdout).toMatch(/the path leads to/);
    }, 30_000);
  });

  it('runs as a service: config from the environment, a service token, ops routes and metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anchor-svc-'));
    await writeFile(join(dir, 'key'), hardhatDevKey);
    const opsPort = await freePort();
    const service = spawnService('anchor', {
      NATS_URL: 'nats://127.0.0.1:4222',
      EVENTS_STREAM: env.stream,
      EVENTS_SUBJECT_PREFIX: env.subjectPrefix,
      HOST: '127.0.0.1',
      OPS_PORT: String(opsPort),
      API_TOKENS: 'tok-svc:anchor-svc:service',
      SERVICE_TOKEN: 'tok-svc',
      CHAIN_RPC_URL: chain.rpcUrl,
      CHAIN_RPC_LOOPBACK_ONLY: 'true',
      AUDIT_ANCHOR_ADDRESS: contractAddress,
      CHAIN_SIGNER_KEY_FILE: join(dir, 'key'),
      AUDIT_CHECKPOINT_EVERY: '2',
      AUDIT_CHECKPOINT_INTERVAL_MS: '200',
    });
    try {
      await service.waitForLine(/anchor service started/, 30_000);
      await createCampaigns(2);
      await service.waitForLine(/checkpoint anchored/, 20_000);
      const health = await fetch(`http://127.0.0.1:${opsPort}/health`);
      expect(health.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${opsPort}/ready`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toMatch(/lightdom_anchor_checkpoints_anchored_total(\{[^}]*\})? [1-9]/);
      expect(service.output()).not.toContain(hardhatDevKey.slice(2));
      const recorded = await readRecordedCheckpoints(store);
      expect(recorded.every((c) => c.anchored)).toBe(true);
      const last = (await store.readAll({ after: 0, limit: 10_000, aggregateType: 'auditCheckpoint' })).at(-1)!;
      expect(last.actor).toBe('anchor-svc');
    } finally {
      await service.kill();
    }
  }, 60_000);
});
