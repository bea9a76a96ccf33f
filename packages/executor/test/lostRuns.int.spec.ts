import { createApplication } from '@lightdom/app';
import { type AnyDecider, LightdomError, type StoredCommit, type WorkflowStepType } from '@lightdom/domain';
import {
  type AggregateRepository,
  createAggregateRepository,
  ensureDurableConsumer,
  typeSubject,
} from '@lightdom/eventstore';
import type { JsMsg } from 'nats';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activity } from '../src/activities/activity.js';
import { createRunCommitHandler } from '../src/consumers/runCommits.js';
import { createRunSweep } from '../src/consumers/runSweep.js';
import { runViewDecider } from '../src/engine/runView.js';
import { createIssuer, type Submit } from '../src/issuer.js';
import { createExecutorMetrics } from '../src/metrics.js';
import { createTimerBook } from '../src/timers.js';
import { createExecutorHarness, type ExecutorHarness, executorIdentity, testTokens } from './support/harness.js';

/**
 * The run commit handler against reads that lag the commit it was handed, as a
 * nats-server 2.9 stream leader answers right after an election while a follower's
 * consumer already delivered the newest commit (docs/executor.md, "A run requested but
 * never started"). Before the fix the handler saw no run, planned nothing and acked: the
 * run stayed requested for good.
 */
let h: ExecutorHarness;
let durableCount = 0;

beforeAll(async () => {
  h = await createExecutorHarness('exstale');
});
afterAll(async () => h?.cleanup());

/** A real delivery of the run's first commit from a durable consumer of its own. */
async function deliveryOf(commit: StoredCommit): Promise<JsMsg> {
  const durable = `stale-${++durableCount}`;
  const jsm = await h.env.nc.jetstreamManager();
  await ensureDurableConsumer(jsm, {
    stream: h.env.stream,
    durable,
    filterSubject: typeSubject(h.env.subjectPrefix, 'workflowRun'),
    ackWaitMs: 60_000,
  });
  const consumer = await h.env.nc.jetstream().consumers.get(h.env.stream, durable);
  for (;;) {
    const msg = await consumer.next({ expires: 5000 });
    if (!msg) throw new Error('no delivery');
    if (msg.seq === commit.position) return msg;
    msg.ack();
  }
}

/**
 * The handler wired as the executor wires it, on a repository whose first `staleLoads`
 * loads answer as of the position before `commit` (a lagging read), and a submit the
 * test may wrap.
 */
function handlerFor(commit: StoredCommit, staleLoads: number, wrapSubmit: (submit: Submit) => Submit = (s) => s) {
  const app = createApplication({ commands: h.commands, store: h.store, tokens: testTokens });
  const submit = wrapSubmit((command, context, options) => app.submit(executorIdentity, command, context, options));
  const real = createAggregateRepository({
    store: h.store,
    deciders: { workflowRun: runViewDecider as AnyDecider },
  });
  let stale = staleLoads;
  const lagging: AggregateRepository = {
    ...real,
    async load(type, id, opts) {
      if (id === commit.aggregateId && stale > 0) {
        stale--;
        return { ...(await real.loadAt(type, id, commit.position - 1)), verified: true };
      }
      return real.load(type, id, opts);
    },
  };
  const clock = () => new Date();
  const metrics = createExecutorMetrics(new Registry(), () => 0);
  const pending: Activity = async () => ({ kind: 'pending' });
  return {
    handle: createRunCommitHandler({
      submit,
      runs: lagging,
      issuer: createIssuer({ submit, metrics, clock }),
      activities: { delay: pending, 'wait.signal': pending } as unknown as Record<WorkflowStepType, Activity>,
      metrics,
      timers: createTimerBook(clock),
      logger: pino({ level: 'silent' }),
      clock,
      maxDeliveries: 5,
    }),
    staleLeft: () => stale,
  };
}

async function requested() {
  const { runId } = await h.requestRun([{ id: 'wait', type: 'wait.signal', input: { name: 'go' } }]);
  const [commit] = await h.runCommits(runId);
  if (!commit) throw new Error('no commit');
  return { runId, commit };
}

describe('a workflowRun commit handled on a read that lags it', () => {
  it('reads again until the read holds the commit, then starts the run', async () => {
    const { runId, commit } = await requested();
    const msg = await deliveryOf(commit);
    const { handle, staleLeft } = handlerFor(commit, 3);
    const disposition = await handle(commit, msg, new AbortController().signal);
    expect(staleLeft()).toBe(0);
    expect(disposition.kind).toBe('ack');
    // Acknowledged only with the run started (before the fix: acked, still `requested`).
    expect((await h.runState(runId)).status).toBe('started');
  });

  it('hands the commit back (throws, so it is redelivered) when the read stays behind', async () => {
    const { runId, commit } = await requested();
    const msg = await deliveryOf(commit);
    const { handle } = handlerFor(commit, 1000);
    await expect(handle(commit, msg, new AbortController().signal)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect((await h.runState(runId)).status).toBe('requested');
    // The redelivery, on a read that caught up, starts it.
    const retry = handlerFor(commit, 0);
    expect((await retry.handle(commit, msg, new AbortController().signal)).kind).toBe('ack');
    expect((await h.runState(runId)).status).toBe('started');
  });

  it('does not ack when the command handler refused StartWorkflowRun on a stale state', async () => {
    const { runId, commit } = await requested();
    const msg = await deliveryOf(commit);
    let refusals = 0;
    // The command handler's own read lagged: it found no run and refused, as the domain would.
    const refuseOnce =
      (submit: Submit): Submit =>
      async (command, context, options) => {
        if ((command as { type: string }).type === 'StartWorkflowRun' && refusals++ === 0) {
          throw new LightdomError('INVALID_TRANSITION', 'no such run (read on a lagging replica)');
        }
        return submit(command, context, options);
      };
    const { handle } = handlerFor(commit, 0, refuseOnce);
    await expect(handle(commit, msg, new AbortController().signal)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(refusals).toBe(1);
    expect((await h.runState(runId)).status).toBe('requested');
    expect((await handle(commit, msg, new AbortController().signal)).kind).toBe('ack');
    expect((await h.runState(runId)).status).toBe('started');
  });
});

describe('the run sweep', () => {
  it('starts a run whose request the durable consumer will never deliver again', async () => {
    const { runId, commit } = await requested();
    // What nats-server < 2.11 can do after a consumer leader change: the floor moves past a
    // delivered, unacknowledged message (here: acknowledged by hand on the executors' durable).
    const jsm = await h.env.nc.jetstreamManager();
    await ensureDurableConsumer(jsm, {
      stream: h.env.stream,
      durable: 'executor',
      filterSubject: typeSubject(h.env.subjectPrefix, 'workflowRun'),
      ackWaitMs: 2000,
    });
    const consumer = await h.env.nc.jetstream().consumers.get(h.env.stream, 'executor');
    for (;;) {
      const msg = await consumer.next({ expires: 5000 });
      if (!msg) throw new Error('no delivery');
      await msg.ackAck();
      if (msg.seq >= commit.position) break;
    }
    const info = await jsm.consumers.info(h.env.stream, 'executor');
    expect(info.num_pending + info.num_ack_pending).toBe(0);

    const running = await h.startExecutor({ ackWaitMs: 2000, sweep: { intervalMs: 200, idleMs: 1000 } });
    await expect.poll(async () => (await h.runState(runId)).status, { timeout: 20_000, interval: 100 }).toBe('started');
    expect(running.logs.some((l) => l.includes('issued it from the sweep') && l.includes(runId))).toBe(true);
  });

  it('looks at a run with nothing due less and less often, and again at once after a new commit', async () => {
    // No executor moves the run on by itself here: only the test's own commit does.
    await h.stopExecutors();
    const { runId } = await requested();
    let now = Date.now() + 3_600_000; // later than every run the other tests left open
    const looked: number[] = [];
    const idleMs = 1000;
    const sweep = createRunSweep(
      {
        store: h.store,
        logger: pino({ level: 'silent' }),
        clock: () => new Date(now),
        nudge: async (id) => {
          if (id === runId) looked.push(now);
          return false;
        },
      },
      { intervalMs: 60_000, idleMs },
    );
    const start = now;
    const at = async (offset: number) => {
      now = start + offset;
      await sweep.sweep();
    };
    await at(0);
    for (const t of [500, 1000, 2000, 3000, 5000, 7000, 10_000, 15_000]) await at(t);
    // Seen at 0; due after 1 idle period, then after 2, 4, 8 more.
    expect(looked.map((t) => t - start)).toEqual([1000, 3000, 7000, 15_000]);
    // A new commit of the run: looked at one idle period after it, not 16 later.
    await h.commands.handle(
      { type: 'StartWorkflowRun', aggregateId: runId, data: {} },
      { actor: 'executor', correlationId: 'sweep-test', causationId: 'sweep-test' },
    );
    await at(16_000);
    await at(17_000);
    expect(looked.map((t) => t - start)).toEqual([1000, 3000, 7000, 15_000, 17_000]);
    await sweep.stop();
  });
});
