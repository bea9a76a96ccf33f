import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Commit } from '@lightdom/domain';
import {
  aggregateSubject,
  type CommandHandler,
  createCommandHandler,
  createEventStore,
  type EventStore,
  encodeCommit,
  hashCommit,
} from '@lightdom/eventstore';
import { createCampaignsProjection, createProjector, hotViewKey, migrate } from '@lightdom/projector';
import { createLogger } from '@lightdom/runtime';
import {
  createNatsTestEnv,
  createPgTestEnv,
  createRedisTestEnv,
  type NatsTestEnv,
  type PgTestEnv,
  type RedisTestEnv,
  repoRoot,
  type ServiceProcess,
  sourceNodeFlags,
  spawnService,
  testServers,
} from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../../packages/command-api/test/harness.js';

/**
 * Commits published straight onto the stream, bypassing every edge, with valid hashes and
 * links (so `audit verify` passes): the projector must apply them, or report the one it
 * cannot apply and pass over it only on an operator's recorded decision.
 */

const meta = () => ({ actor: 'hostile-test', correlationId: randomUUID(), causationId: randomUUID() });
const hostile = 'a\u0000b\ud800c\udfffd'; // NUL, a lone high and a lone low surrogate
const mapped = 'a\uFFFDb\uFFFDc\uFFFDd';

/** A commit as the store would write it, but with whatever data the forger wants. */
async function forge(
  nats: NatsTestEnv,
  raw: EventStore,
  aggregateId: string,
  events: { type: string; data: unknown }[],
): Promise<number> {
  const last = await raw.lastCommit('campaign', aggregateId);
  const body: Omit<Commit, 'hash'> = {
    commitId: randomUUID(),
    aggregateType: 'campaign',
    aggregateId,
    version: (last?.version ?? 0) + events.length,
    previousPosition: last?.position ?? 0,
    correlationId: randomUUID(),
    causationId: randomUUID(),
    actor: `forger${hostile}`,
    timestamp: new Date().toISOString(),
    commandType: 'Forged',
    commandFingerprint: '0'.repeat(64),
    events: events.map((e) => ({ id: randomUUID(), type: e.type, schemaVersion: 2, data: e.data })),
    prevHash: last?.hash ?? null,
  };
  const commit: Commit = { ...body, hash: hashCommit(body) };
  const ack = await nats.nc
    .jetstream()
    .publish(aggregateSubject(nats.subjectPrefix, 'campaign', aggregateId), encodeCommit(commit), {
      expect: { lastSubjectSequence: last?.position ?? 0 },
    });
  return ack.seq;
}

/** `lightdom …` as an operator runs it: a child process with the stream in its environment. */
function lightdom(nats: NatsTestEnv, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeFlags, 'packages/audit/src/cli/lightdom.ts', ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NATS_URL: testServers.natsUrl,
        EVENTS_STREAM: nats.stream,
        EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `[[…{leaf}…]]` nested `depth` deep. */
const nested = (depth: number, leaf: unknown): unknown =>
  JSON.parse(`${'['.repeat(depth)}${JSON.stringify(leaf)}${']'.repeat(depth)}`);

describe('forged commits with unstorable text', () => {
  let nats: NatsTestEnv;
  let pgEnv: PgTestEnv;
  let redisEnv: RedisTestEnv;
  let raw: EventStore;
  let api: Awaited<ReturnType<typeof buildTestApp>>;
  let projector: ReturnType<typeof createProjector>;

  beforeAll(async () => {
    [nats, pgEnv, redisEnv] = await Promise.all([
      createNatsTestEnv('textforged'),
      createPgTestEnv('textforged'),
      createRedisTestEnv('textforged'),
    ]);
    await migrate(pgEnv.pool, pgEnv.schema);
    api = await buildTestApp(nats, pgEnv, { maxWaitMs: 5000 });
    raw = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
    projector = createProjector(
      { nc: nats.nc, pool: pgEnv.pool, redis: redisEnv.redis, logger: createLogger('projector', { level: 'silent' }) },
      {
        stream: nats.stream,
        subjectPrefix: nats.subjectPrefix,
        schema: pgEnv.schema,
        durable: `p-${nats.id}`,
        projections: [createCampaignsProjection()],
        hotViews: { keyPrefix: redisEnv.prefix, channelPrefix: redisEnv.prefix },
        stallRetryMs: 200,
      },
    );
    await projector.start();
  });
  afterAll(async () => {
    await projector?.stop();
    await api?.close();
    await Promise.all([nats?.cleanup(), pgEnv?.cleanup(), redisEnv?.cleanup()]);
  });

  it('finding 1: the projector applies them, later commits follow, minPosition reads succeed, audit verify passes', async () => {
    const sub = redisEnv.redis.duplicate();
    const feed: string[] = [];
    await sub.subscribe(`${redisEnv.prefix}campaign:events`);
    sub.on('message', (_ch, msg) => feed.push(msg));
    try {
      // A campaign made the normal way, then renamed by a forged commit of two events.
      const created = await api.app.inject({
        method: 'POST',
        url: '/api/campaigns',
        payload: { name: 'Spring', budget: { amount: 100, currency: 'EUR' } },
      });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      await forge(nats, raw, id, [
        { type: 'CampaignRenamed', data: { name: hostile, previousName: 'Spring' } },
        { type: 'CampaignDescriptionChanged', data: { description: `\u0000${hostile}\ud800` } },
      ]);
      // A campaign that only the forger made: hostile text in every string, keys and deep data.
      const forgedId = `forged-${nats.id}`;
      const forgedAt = await forge(nats, raw, forgedId, [
        {
          type: 'CampaignCreated',
          data: {
            name: hostile,
            description: '\ud800',
            channels: ['email', { [`k${hostile}`]: [[[hostile]]] }],
            budget: { amount: 10, currency: 'EUR' },
            owner: `owner${hostile}`,
          },
        },
        // 3,000 deep: beyond what jsonb (and JSON.stringify) can take.
        { type: 'CampaignScheduled', data: { startAt: '2030-01-01T00:00:00.000Z', note: nested(3000, hostile) } },
      ]);

      // Later commits, through the edge, and a read that waits for the last of them.
      const renamed = await api.app.inject({
        method: 'PATCH',
        url: `/api/campaigns/${id}`,
        payload: { name: 'Summer' },
      });
      expect(renamed.statusCode, renamed.body).toBe(200);
      const later = renamed.json().position as number;
      expect(later).toBeGreaterThan(forgedAt);
      const read = await api.app.inject(`/api/campaigns/${id}?minPosition=${later}`);
      expect(read.statusCode, read.body).toBe(200);
      expect(read.json()).toMatchObject({ name: 'Summer', description: `\uFFFD${mapped}\uFFFD`, version: 4 });

      const forgedRead = await api.app.inject(`/api/campaigns/${forgedId}?minPosition=${forgedAt}`);
      expect(forgedRead.statusCode, forgedRead.body).toBe(200);
      expect(forgedRead.json()).toMatchObject({ name: mapped, description: '\uFFFD', status: 'scheduled' });
      const { rows } = await pgEnv.pool.query(
        `select owner, channels, schedule from "${pgEnv.schema}".campaigns where id = $1`,
        [forgedId],
      );
      expect(rows[0].owner).toBe(`owner${mapped}`);
      expect(rows[0].channels).toEqual(['email', { [`k${mapped}`]: [[[mapped]]] }]);
      expect(rows[0].schedule.startAt).toBe('2030-01-01T00:00:00.000Z');
      expect(JSON.stringify(rows[0].schedule.note).length).toBeLessThan(2000); // capped, not 3,000 deep

      // Redis: the hot view and the Pub/Sub feed hold the same storable text.
      const viewKey = hotViewKey({ keyPrefix: redisEnv.prefix, channelPrefix: '' }, 'campaign', forgedId);
      await expect.poll(() => redisEnv.redis.hgetall(viewKey)).toMatchObject({ name: mapped, owner: `owner${mapped}` });
      await expect.poll(() => feed.length).toBeGreaterThanOrEqual(5);
      const events = feed.map((m) => JSON.parse(m) as { type: string; aggregateId: string; data: { name?: string } });
      expect(events.find((e) => e.type === 'CampaignCreated' && e.aggregateId === forgedId)?.data.name).toBe(mapped);
      expect(feed.join('')).not.toMatch(/\\u0000|\\ud[89a-f][0-9a-f]{2}/i);

      // The log keeps the original bytes, and its hash chains still verify.
      const [, forgedCommit] = await raw.readAggregate('campaign', id);
      expect(forgedCommit?.events[0]?.data).toMatchObject({ name: hostile });
      const verify = await lightdom(nats, ['audit', 'verify', '--json']);
      expect(verify.code, verify.stderr).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, violations: 0, commits: later });
      expect(projector.stalls()).toEqual([]);
    } finally {
      sub.disconnect();
    }
  });
});

describe('a forged commit the projection cannot apply', () => {
  let nats: NatsTestEnv;
  let pgEnv: PgTestEnv;
  let raw: EventStore;
  let handler: CommandHandler;
  let proc: ServiceProcess | undefined;

  beforeAll(async () => {
    [nats, pgEnv] = await Promise.all([createNatsTestEnv('textstuck'), createPgTestEnv('textstuck')]);
    raw = createEventStore({ nc: nats.nc }, { stream: nats.stream, subjectPrefix: nats.subjectPrefix });
    await raw.ensureStream();
    handler = createCommandHandler({ store: raw });
  });
  afterAll(async () => {
    await proc?.kill();
    await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
  });

  const checkpoint = async () =>
    Number(
      (await pgEnv.pool.query(`select position from "${pgEnv.schema}".projection_checkpoints where name = 'campaigns'`))
        .rows[0]?.position ?? 0,
    );
  const rowCount = async (id: string) =>
    (await pgEnv.pool.query(`select 1 from "${pgEnv.schema}".campaigns where id = $1`, [id])).rowCount;

  it('finding 1: stalls visibly (/ready, metric, one log line) until `lightdom projections skip`, then moves on', async () => {
    proc = spawnService('projector', {
      NATS_URL: testServers.natsUrl,
      EVENTS_STREAM: nats.stream,
      EVENTS_SUBJECT_PREFIX: nats.subjectPrefix,
      DATABASE_URL: testServers.databaseUrl,
      DB_SCHEMA: pgEnv.schema,
      REDIS_URL: testServers.redisUrl,
      REDIS_KEY_PREFIX: `t:${nats.id}:`,
      REDIS_CHANNEL_PREFIX: `t:${nats.id}:`,
      PROJECTOR_DURABLE: `proj-${nats.id}`,
      PROJECTOR_STALL_RETRY_MS: '200',
      // /ready names the stalled projection only to a token holder.
      API_TOKENS: 'ops-reader-token:ops:reader',
      HOST: '127.0.0.1',
      PORT: '0',
    });
    const ready = JSON.parse(await proc.waitForLine(/"projector ready"/)) as { ops: string };
    const ops = ready.ops;

    const before = await handler.handle(
      { type: 'CreateCampaign', data: { name: 'before', budget: { amount: 1, currency: 'EUR' } } },
      meta(),
    );
    // numeric(16, 2) cannot hold this budget: no encoding can apply it.
    const bad = await forge(nats, raw, `overflow-${nats.id}`, [
      {
        type: 'CampaignCreated',
        data: { name: 'x', description: '', channels: [], budget: { amount: 1e20, currency: 'EUR' }, owner: null },
      },
    ]);
    const after = await handler.handle(
      { type: 'CreateCampaign', data: { name: 'after', budget: { amount: 1, currency: 'EUR' } } },
      meta(),
    );
    expect(after.position).toBe(bad + 1);

    await expect.poll(async () => (await fetch(`${ops}/ready`)).status, { timeout: 15_000, interval: 100 }).toBe(503);
    const notReady = (await (
      await fetch(`${ops}/ready`, { headers: { authorization: 'Bearer ops-reader-token' } })
    ).json()) as { checks: Record<string, string> };
    expect(notReady.checks.projections).toMatch(
      new RegExp(`^campaigns stalled at position ${bad}: .*numeric field overflow`),
    );
    expect(notReady.checks.postgres).toBe('ok');
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`lightdom_projection_stuck\\{projection="campaigns"[^}]*\\} ${bad}\n`));
    // The commit before it is applied; the stuck one and the later one are not.
    expect(await checkpoint()).toBe(bad - 1);
    expect(await rowCount(before.id)).toBe(1);
    expect(await rowCount(after.id)).toBe(0);
    // Many retries (every 200 ms) but one log line for the stall.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await checkpoint()).toBe(bad - 1);
    expect(proc.output().match(/"projection stalled/g)).toHaveLength(1);

    const skip = await lightdom(nats, [
      'projections',
      'skip',
      'campaigns',
      String(bad),
      '--reason',
      'forged budget beyond numeric(16,2)',
      '--actor',
      'ops:test',
    ]);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stdout).toMatch(/recorded ProjectionCommitSkipped/);
    const [decision] = await raw.readAggregate('projection', 'campaigns');
    expect(decision).toMatchObject({ actor: 'ops:test', commandType: 'SkipProjectionCommit' });
    expect(decision?.events[0]).toMatchObject({
      type: 'ProjectionCommitSkipped',
      data: { projection: 'campaigns', position: bad, reason: 'forged budget beyond numeric(16,2)' },
    });

    await expect.poll(checkpoint, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(decision!.position);
    expect(await rowCount(after.id)).toBe(1);
    expect(await rowCount(`overflow-${nats.id}`)).toBe(0);
    await expect.poll(async () => (await fetch(`${ops}/ready`)).status, { timeout: 5000 }).toBe(200);
    const moved = await (await fetch(`${ops}/metrics`)).text();
    expect(moved).toMatch(/lightdom_projection_stuck\{projection="campaigns"[^}]*\} 0\n/);
    expect(moved).toMatch(/lightdom_projection_skipped_commits_total\{projection="campaigns"[^}]*\} 1\n/);
    const skips = await pgEnv.pool.query(`select * from "${pgEnv.schema}".projection_skips`);
    expect(skips.rows).toEqual([
      expect.objectContaining({
        projection: 'campaigns',
        position: String(bad),
        actor: 'ops:test',
        decision_position: String(decision!.position),
        error: expect.stringMatching(/numeric field overflow/),
      }),
    ]);
    expect(proc.output()).toMatch(/"commit skipped by operator decision"/);

    // Deciding again records nothing new, and the chains still verify.
    const again = await lightdom(nats, ['projections', 'skip', 'campaigns', String(bad), '--reason', 'again']);
    expect(again.stdout).toMatch(/already decided/);
    expect(await raw.readAggregate('projection', 'campaigns')).toHaveLength(1);
    const verify = await lightdom(nats, ['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
