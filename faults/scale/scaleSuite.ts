import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectNats, createEventStore, type EventStore } from '@lightdom/eventstore';
import { Redis } from 'ioredis';
import type { JetStreamManager } from 'nats';
import pg from 'pg';
import { type CheckResult, check, firstOf } from '../checks/check.js';
import { logChecks } from '../checks/logChecks.js';
import { caughtUp } from '../checks/readModelChecks.js';
import { request, waitUntil } from '../lib/http.js';
import { accepts, defineProbeWorkflow, type Load, startLoad } from '../lib/load.js';
import { inject, observe, say, seconds } from '../lib/log.js';
import { grpcHealth } from './grpcHealth.js';
import { executorRescues, issuedCheck } from './issuedCheck.js';
import { readFromLeader, sameLogCheck } from './leaderLog.js';
import { activeProjector, type ScaleStack, startScaleStack } from './scaleStack.js';
import { allReadModelsReplayCheck, workChecks } from './workChecks.js';
import { feedChecks, startFeedClients } from './wsClients.js';

export interface ScaleResult {
  checks: CheckResult[];
  passed: boolean;
  durationMs: number;
  commands: number;
  commits: number;
}

const profile = (quick: boolean) => ({
  workers: quick ? 3 : 4,
  campaignsPerWorker: 2,
  pauseMs: 5,
  warmupMs: quick ? 2000 : 4000,
  natsDownMs: quick ? 3000 : 6000,
  betweenMs: quick ? 1500 : 3000,
  tailMs: quick ? 2000 : 4000,
  feedClients: 3,
  batchSize: 5,
  restartDelayMs: 500,
});

/** What the injections saw; judged by the checks. */
interface Observed {
  leaderBefore?: string;
  leaderAfter?: string;
  /** From the kill to the stream reporting a new leader, in ms. */
  electionMs?: number;
  acksWhileLeaderDown: number;
  projectorTakeoverMs?: number;
  grpcBefore: string;
  grpcAfterApiKill: string;
  notReady: string[];
  lastDisruptionAt: number;
}

/**
 * The scale-out under kill -9: while a command load runs through nginx and WebSocket
 * clients follow the feed through nginx, kill the stream leader's nats-server, one
 * command-api, one executor and the active projector; then check the log, the work, the
 * read models and the feeds.
 */
export async function runScaleSuite(opts: { quick: boolean }): Promise<ScaleResult> {
  const started = Date.now();
  const p = profile(opts.quick);
  say(`scale-out check: ${opts.quick ? 'quick' : 'full'} run`);
  const stack = await startScaleStack({ restartDelayMs: p.restartDelayMs, batchSize: p.batchSize });
  const pool = new pg.Pool({ connectionString: stack.postgres.url, max: 3 });
  pool.on('error', () => undefined);
  const nats = await connectNats({ url: stack.cluster.url, name: 'scale-suite' });
  let failed = true;
  try {
    const api = stack.nginx.url;
    const jsm = await nats.nc.jetstreamManager();
    const store = createEventStore(
      { nc: nats.nc },
      { stream: stack.names.stream, subjectPrefix: stack.names.subjectPrefix, readTimeoutMs: 60_000 },
    );
    const aiTasks = await accepts(api, stack.id, 'RequestAiTask', { model: 'deepseek-r1:7b', prompt: 'probe' });
    const workflowRuns =
      (await defineProbeWorkflow(api, stack.id)) &&
      (await accepts(api, stack.id, 'RequestWorkflowRun', { workflowId: `wf-${stack.id}`, definitionVersion: 1 }));
    if (!aiTasks || !workflowRuns) throw new Error('the API through nginx refused the AI task or workflow run probe');
    const feed = startFeedClients(api, p.feedClients);
    const load = startLoad({ apiUrl: api, runId: stack.id, ...p, aiTasks, workflowRuns });
    say(`load through nginx: ${p.workers} clients; ${p.feedClients} WebSocket clients on the feed through nginx`);
    const seen: Observed = {
      acksWhileLeaderDown: 0,
      grpcBefore: await grpcHealth(stack.nginx.grpcAddress),
      grpcAfterApiKill: '',
      notReady: [],
      lastDisruptionAt: Date.now(),
    };
    observe(`gRPC health through nginx: ${seen.grpcBefore}`);
    await sleep(p.warmupMs);

    await killStreamLeader(stack, jsm, load, seen, p.natsDownMs);
    await settle(stack, seen, 'the stream leader kill');
    await sleep(p.betweenMs);

    const [api1] = stack.of('command-api');
    inject(`kill -9 ${api1!.label} (pid ${api1!.pid()})`);
    await api1!.kill9();
    seen.grpcAfterApiKill = await grpcHealth(stack.nginx.grpcAddress);
    observe(`gRPC health through nginx right after: ${seen.grpcAfterApiKill}`);
    await settle(stack, seen, `kill -9 ${api1!.label}`);
    await sleep(p.betweenMs);

    const [executor1] = stack.of('executor');
    inject(`kill -9 ${executor1!.label} (pid ${executor1!.pid()})`);
    await executor1!.kill9();
    await settle(stack, seen, `kill -9 ${executor1!.label}`);
    await sleep(p.betweenMs);

    const active = await activeProjector(stack.of('projector'), 10_000);
    const standby = stack.of('projector').find((s) => s !== active)!;
    inject(`kill -9 the active projector ${active.label} (pid ${active.pid()}); ${standby.label} stands by`);
    const killedAt = Date.now();
    await active.kill9();
    await standby.waitReady(30_000).then(
      () => {
        seen.projectorTakeoverMs = Date.now() - killedAt;
        observe(`${standby.label} took the lease and answered /ready after ${seconds(seen.projectorTakeoverMs)}`);
      },
      () => observe(`${standby.label} did not take over within 30 s`),
    );
    await settle(stack, seen, 'the projector kill');
    await sleep(p.tailMs);

    say('stopping the load (commands in flight may still retry for 20 s)');
    await load.stop();
    const { head, backlog } = await quiesce(stack, jsm, store, seen.lastDisruptionAt);
    const rescues = executorRescues(stack.logDir);
    observe(
      `executor safety nets: ${rescues.staleReads} run reads behind the commit in hand (read again); ${rescues.sweeps.length} runs or AI tasks acted on by the sweeps${rescues.sweeps.length ? ` (${firstOf(rescues.sweeps, 4, (s) => s)})` : ''}`,
    );
    await feed.stop(head);
    const viaConsumer = await store.readAll({ after: 0, until: head, limit: Number.MAX_SAFE_INTEGER });
    // The leader's log is the truth the checks judge; a follower that serves reads differently shows here.
    const commits = await readFromLeader(jsm, stack.names.stream, head);
    const deps = { nc: nats.nc, pool, names: stack.names, commits, head };
    const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2, lazyConnect: true });
    const checks = [
      sameLogCheck(viaConsumer, commits),
      ...logChecks(commits, load, []),
      ...workChecks(commits),
      issuedCheck(stack.logDir, commits),
      backlogCheck(backlog),
      await caughtUp({ ...deps, redis }),
      await allReadModelsReplayCheck(deps, head),
      ...feedChecks(feed, commits),
      ...availability(stack, seen, await streamReplicas(jsm, stack)),
      await bucketsCheck(jsm, stack),
    ];
    redis.disconnect();
    say('checks:');
    for (const c of checks) process.stdout.write(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}\n        ${c.detail}\n`);
    const passed = checks.every((c) => c.ok);
    failed = !passed;
    return { checks, passed, durationMs: Date.now() - started, commands: load.acks.length, commits: commits.length };
  } finally {
    await nats.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await stack.destroy();
    if (failed) say(`scale logs kept in ${stack.logDir}`);
    else rmSync(stack.logDir, { recursive: true, force: true });
  }
}

/** kill -9 the nats-server that leads the event stream; start it again on its store later. */
async function killStreamLeader(
  stack: ScaleStack,
  jsm: JetStreamManager,
  load: Load,
  seen: Observed,
  downMs: number,
): Promise<void> {
  const info = await jsm.streams.info(stack.names.stream);
  const leader = info.cluster?.leader;
  if (!leader) throw new Error(`stream ${stack.names.stream} reports no leader`);
  seen.leaderBefore = leader;
  const node = stack.cluster.node(leader);
  inject(`kill -9 nats-server ${leader} (the leader of ${stack.names.stream}), down for ${seconds(downMs)}`);
  const acksBefore = load.acks.length;
  const killedAt = Date.now();
  await node.kill9();
  // Down for downMs, and at least until the other two elected a new leader (2.9 takes 5-10 s here)...
  for (;;) {
    const now = await jsm.streams.info(stack.names.stream).catch(() => undefined);
    const l = now?.cluster?.leader;
    if (l && l !== leader && !seen.leaderAfter) {
      seen.leaderAfter = l;
      seen.electionMs = Date.now() - killedAt;
    }
    // ...and until the new leader acknowledged commands of its own (the point of a cluster).
    const servedByNewLeader = !!seen.leaderAfter && load.acks.length > acksBefore;
    if (Date.now() - killedAt >= downMs && (servedByNewLeader || Date.now() - killedAt > 30_000)) break;
    await sleep(250);
  }
  seen.acksWhileLeaderDown = load.acks.length - acksBefore;
  observe(
    `${seen.acksWhileLeaderDown} commands acknowledged in the ${seconds(Date.now() - killedAt)} ${leader} was down; ${seen.leaderAfter ? `${seen.leaderAfter} leads the stream since ${seconds(seen.electionMs ?? 0)} after the kill` : 'no new leader'}`,
  );
  await node.start();
  seen.lastDisruptionAt = Date.now();
}

/** After a fault: every instance answers /ready again (a projector standby answers /health). */
async function settle(stack: ScaleStack, seen: Observed, after: string): Promise<void> {
  const waits = stack.services.map(async (s) => {
    try {
      if (s.name === 'projector') {
        await waitUntil(`${s.label} /health`, async () => (await request(`${s.url}/health`)).status === 200, 30_000);
      } else await s.waitReady(30_000);
    } catch {
      seen.notReady.push(`${s.label} after ${after}`);
    }
  });
  await Promise.all(waits);
  seen.lastDisruptionAt = Date.now();
  observe(`every instance answers again after ${after}`);
}

/** Waits until the workers' consumers are drained and the log stopped growing for 2 s. */
async function quiesce(stack: ScaleStack, jsm: JetStreamManager, store: EventStore, lastDisruptionAt: number) {
  const started = Date.now();
  const durables = [stack.names.executorDurable, `executor-ai-${stack.id}`, stack.names.aiWorkerDurable];
  const backlog: string[] = [];
  for (const durable of durables) {
    // Generous: only a stuck consumer waits this long (a loaded machine may need several ack waits).
    const deadline = Math.max(Date.now() + 45_000, lastDisruptionAt + 30_000);
    let info = await jsm.consumers.info(stack.names.stream, durable).catch(() => undefined);
    while (info && info.num_pending + info.num_ack_pending > 0 && Date.now() < deadline) {
      await sleep(500);
      info = await jsm.consumers.info(stack.names.stream, durable).catch(() => info);
    }
    if (info && info.num_pending + info.num_ack_pending > 0) {
      backlog.push(
        `${durable}: ${info.num_pending} pending, ${info.num_ack_pending} unacknowledged (delivered up to ${info.delivered.stream_seq}, ack floor ${info.ack_floor.stream_seq}, ${info.num_redelivered} redelivered, ${info.num_waiting} pulls waiting, leader ${info.cluster?.leader})`,
      );
    }
  }
  let head = await store.headPosition();
  for (let stableSince = Date.now(); Date.now() - stableSince < 2000 && Date.now() - started < 90_000; ) {
    await sleep(250);
    const now = await store.headPosition();
    if (now !== head) {
      head = now;
      stableSince = Date.now();
    }
  }
  say(`the log stopped growing at position ${head} (${seconds(Date.now() - started)} after the load)`);
  return { head, backlog };
}

const backlogCheck = (backlog: string[]) =>
  check(
    'the executors and AI workers handled every commit meant for them (nothing pending on their shared consumers)',
    backlog.length === 0,
    backlog.length === 0 ? 'all drained' : backlog.join('; '),
  );

async function streamReplicas(jsm: JetStreamManager, stack: ScaleStack): Promise<string> {
  const info = await jsm.streams.info(stack.names.stream);
  const replicas = info.cluster?.replicas ?? [];
  return `leader ${info.cluster?.leader}, replicas ${replicas.map((r) => `${r.name}${r.current ? ' (current)' : ' (behind)'}`).join(', ')}; num_replicas ${info.config.num_replicas}`;
}

/** The buckets commands depend on are replicated as the log is, so losing a node loses neither. */
async function bucketsCheck(jsm: JetStreamManager, stack: ScaleStack): Promise<CheckResult> {
  const buckets = [stack.names.idempotencyBucket, stack.names.snapshotBucket];
  const found = await Promise.all(
    buckets.map(async (b) => {
      const info = await jsm.streams.info(`KV_${b}`).catch(() => undefined);
      return `${b} ${info ? `num_replicas ${info.config.num_replicas}` : 'missing'}`;
    }),
  );
  return check(
    'the idempotency and snapshot buckets have 3 replicas, as the log has',
    found.every((f) => f.endsWith('num_replicas 3')),
    found.join(', '),
  );
}

function availability(stack: ScaleStack, seen: Observed, replicas: string): CheckResult[] {
  const unexpected = stack.services.flatMap((s) => s.unexpectedExits.map((e) => `${s.label} (code ${e.code})`));
  return [
    check(
      'commands were acknowledged while the stream leader was down (another node took over)',
      seen.acksWhileLeaderDown > 0 && !!seen.leaderAfter && seen.leaderAfter !== seen.leaderBefore,
      `${seen.acksWhileLeaderDown} acknowledged; leader ${seen.leaderBefore} → ${seen.leaderAfter ?? 'none'}`,
    ),
    check(
      'the stream is replicated on all 3 nodes again at the end, every replica current',
      /num_replicas 3$/.test(replicas) && (replicas.match(/\(current\)/g) ?? []).length === 2,
      replicas,
    ),
    check(
      'gRPC through nginx (grpc_pass) answered SERVING, also right after a command-api instance died',
      seen.grpcBefore === 'SERVING' && seen.grpcAfterApiKill === 'SERVING',
      `before ${seen.grpcBefore}, after the kill ${seen.grpcAfterApiKill}`,
    ),
    check(
      'the standby projector took over within 15 s of the active one being killed',
      seen.projectorTakeoverMs !== undefined && seen.projectorTakeoverMs < 15_000,
      seen.projectorTakeoverMs !== undefined ? `after ${seconds(seen.projectorTakeoverMs)}` : 'it never did',
    ),
    check(
      'no instance needed a restart it was not killed for',
      unexpected.length === 0,
      unexpected.length === 0
        ? stack.services.map((s) => `${s.label} ${s.starts - 1}/${s.injectedKills}`).join(', ')
        : firstOf(unexpected, 4, (u) => u),
    ),
    check(
      'every instance answered again after every kill',
      seen.notReady.length === 0,
      seen.notReady.length === 0 ? 'all' : seen.notReady.join('; '),
    ),
  ];
}
