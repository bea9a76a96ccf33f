import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectNats, createEventStore } from '@lightdom/eventstore';
import { Redis } from 'ioredis';
import pg from 'pg';
import { availabilityChecks, endStateChecks } from './checks/availabilityChecks.js';
import type { CheckResult } from './checks/check.js';
import { logChecks } from './checks/logChecks.js';
import { quiesce } from './checks/quiesce.js';
import { caughtUp, hotViewCheck, type ReadModelDeps, replayChecks } from './checks/readModelChecks.js';
import { killService } from './injections/killService.js';
import { natsOutage } from './injections/natsOutage.js';
import { postgresRestart } from './injections/postgresRestart.js';
import { projectorKills } from './injections/projectorKills.js';
import { redisRestart } from './injections/redisRestart.js';
import { settle } from './injections/settle.js';
import type { FaultContext } from './lib/context.js';
import { request } from './lib/http.js';
import { accepts, defineProbeWorkflow, startLoad } from './lib/load.js';
import { say } from './lib/log.js';
import { startStack } from './lib/stack.js';

export interface SuiteOptions {
  quick: boolean;
  /** Runs the projector with PROJECTOR_UNSAFE_CHECKPOINT=1: the suite is expected to fail. */
  broken: boolean;
}

export interface SuiteResult {
  checks: CheckResult[];
  passed: boolean;
  durationMs: number;
  commands: number;
  commits: number;
}

/** Settings for a full run and for `--quick`. */
const profile = (quick: boolean) => ({
  workers: quick ? 3 : 4,
  campaignsPerWorker: 2,
  pauseMs: 5,
  warmupMs: quick ? 2000 : 4000,
  projectorKills: quick ? 8 : 12,
  tailMs: quick ? 2000 : 4000,
  batchSize: 5,
  restartDelayMs: 500,
});

/**
 * One run: private servers and supervised services, a command load, every fault in
 * turn, then the checks. Everything started is stopped again, also when a step throws.
 */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const started = Date.now();
  const p = profile(opts.quick);
  say(
    `fault suite: ${opts.quick ? 'quick' : 'full'} run${opts.broken ? ', DELIBERATELY BROKEN projector (PROJECTOR_UNSAFE_CHECKPOINT=1)' : ''}`,
  );
  const stack = await startStack({
    brokenProjector: opts.broken,
    batchSize: p.batchSize,
    restartDelayMs: p.restartDelayMs,
  });
  const pool = new pg.Pool({ connectionString: stack.postgres.url, max: 3, connectionTimeoutMillis: 2000 });
  pool.on('error', () => undefined);
  let failed = true;
  try {
    const runId = stack.id;
    const api = stack.api.url;
    const aiTasks = await accepts(api, runId, 'RequestAiTask', { model: 'deepseek-r1:7b', prompt: 'probe' });
    // A run names a defined workflow; the core fills its steps from the definition.
    const workflowRuns =
      (await defineProbeWorkflow(api, runId)) &&
      (await accepts(api, runId, 'RequestWorkflowRun', { workflowId: `wf-${runId}`, definitionVersion: 1 }));
    const probeCampaigns = {
      outage: await createProbeCampaign(api, `${runId}-outage`),
      recovery: await createProbeCampaign(api, `${runId}-recovery`),
    };

    const load = startLoad({ apiUrl: api, runId, ...p, aiTasks, workflowRuns });
    say(
      `load: ${p.workers} clients, ${p.workers * p.campaignsPerWorker} campaigns, metrics/renames/pauses${aiTasks ? ', AI tasks' : ''}${workflowRuns ? ', workflow runs' : ''}; projector batch size ${p.batchSize}`,
    );
    const ctx: FaultContext = {
      stack,
      load,
      pool,
      quick: opts.quick,
      probeCampaigns,
      probeAcks: [],
      runId,
      measurements: { natsDownProbes: [], notReady: [], readsWhilePostgresDown: [], lastDisruptionAt: Date.now() },
    };
    await sleep(p.warmupMs);

    for (const svc of stack.services) {
      if (svc.name === 'projector') await projectorKills(ctx, svc, p.projectorKills);
      else await killService(ctx, svc);
      await settle(ctx, `kill -9 ${svc.name}`);
    }
    await natsOutage(ctx);
    await settle(ctx, 'the NATS outage');
    await postgresRestart(ctx);
    await settle(ctx, 'the PostgreSQL restart');
    await redisRestart(ctx);
    await settle(ctx, 'the Redis restart');
    await sleep(p.tailMs);
    say('stopping the load (commands in flight may still retry for 20 s)');
    await load.stop();
    say(`load stopped: ${load.acks.length + ctx.probeAcks.length} commands acknowledged`);

    const { checks, commits } = await runChecks(ctx);
    say('checks:');
    for (const c of checks) process.stdout.write(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}\n        ${c.detail}\n`);
    const passed = checks.every((c) => c.ok);
    failed = !passed;
    return {
      checks,
      passed,
      durationMs: Date.now() - started,
      commands: load.acks.length + ctx.probeAcks.length,
      commits,
    };
  } finally {
    await pool.end().catch(() => undefined);
    await stack.destroy();
    if (failed) say(`service logs kept in ${stack.logDir}`);
    else rmSync(stack.logDir, { recursive: true, force: true });
  }
}

/** A launched campaign of the probes' own, so they never queue behind the load's commands. */
async function createProbeCampaign(api: string, keyPrefix: string): Promise<string> {
  const created = await request(`${api}/api/commands`, {
    method: 'POST',
    headers: { 'idempotency-key': `${keyPrefix}-create` },
    body: { type: 'CreateCampaign', data: { name: 'probe', budget: { amount: 1e9, currency: 'EUR' } } },
  });
  const id = (created.body as { id?: string } | undefined)?.id;
  if (created.status !== 201 || !id) throw new Error(`cannot create the probe campaign: ${created.status}`);
  const launched = await request(`${api}/api/commands`, {
    method: 'POST',
    headers: { 'idempotency-key': `${keyPrefix}-launch` },
    body: { type: 'LaunchCampaign', aggregateId: id, data: {} },
  });
  if (launched.status !== 201) throw new Error(`cannot launch the probe campaign: ${launched.status}`);
  return id;
}

async function runChecks(ctx: FaultContext): Promise<{ checks: CheckResult[]; commits: number }> {
  const { stack } = ctx;
  const nats = await connectNats({ url: stack.nats.url, name: 'fault-suite-checks' });
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  try {
    const store = createEventStore(
      { nc: nats.nc },
      { stream: stack.names.stream, subjectPrefix: stack.names.subjectPrefix, readTimeoutMs: 60_000 },
    );
    const jsm = await nats.nc.jetstreamManager();
    const { workers, head } = await quiesce(ctx, jsm, store);
    const commits = await store.readAll({ after: 0, until: head, limit: Number.MAX_SAFE_INTEGER });
    const deps: ReadModelDeps = { nc: nats.nc, pool: ctx.pool, redis, names: stack.names, commits, head };
    const caught = await caughtUp(deps);
    const checks = [
      ...logChecks(commits, ctx.load, ctx.probeAcks),
      caught,
      ...(await replayChecks(deps)),
      await hotViewCheck(deps, ctx.measurements.hotViewsBackAfter ?? 0),
      ...availabilityChecks(ctx),
      ...(await endStateChecks(ctx, workers)),
    ];
    return { checks, commits: commits.length };
  } finally {
    redis.disconnect();
    await nats.close();
  }
}
