import type { CampaignState } from '@lightdom/domain';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutorHarness,
  type ExecutorHarness,
  metricValue,
  settleTimeout,
  startWebhook,
} from './support/harness.js';

let h: ExecutorHarness;
let webhook: Awaited<ReturnType<typeof startWebhook>>;
/** Short, so a crashed executor's message comes back quickly; heartbeats keep live ones. */
const ackWaitMs = 2000;

beforeAll(async () => {
  h = await createExecutorHarness('exres');
  // First call on a /once-* path hangs (the executor is stopped meanwhile); later calls answer.
  webhook = await startWebhook((call, nth) => {
    if (call.path.startsWith('/once-')) return nth === 0 ? { hang: true } : { status: 200, json: { nth } };
    return { status: 200, json: { ok: true }, delayMs: 20 };
  });
  h.onCleanup(() => webhook.close());
});
afterEach(async () => h.stopExecutors());
afterAll(async () => h?.cleanup());

const keysOf = (path: string) => webhook.callsTo(path).map((c) => c.headers['idempotency-key']);

describe('executor restarts and competition', () => {
  it('resumes a run after a stop in the middle of a step, without starting any step twice', async () => {
    const first = await h.startExecutor({ ackWaitMs });
    const { runId } = await h.requestRun([
      { id: 'hook', type: 'http.request', input: { url: `${webhook.url}/once-stop` } },
      { id: 'pause', type: 'delay', input: { ms: 800 } },
      { id: 'after', type: 'delay', input: { ms: 10 }, dependsOn: ['hook', 'pause'] },
    ]);
    // The hook's call is in flight and the pause timer armed: stop here.
    await expect.poll(() => webhook.callsTo('/once-stop').length, settleTimeout).toBe(1);
    await expect.poll(async () => (await h.stepStarts(runId))['pause:1'], settleTimeout).toBe(1);
    await first.stop();
    const midway = await h.runState(runId);
    expect(midway.status).toBe('started');
    expect(midway.stepStates.hook?.status).toBe('running');

    await h.startExecutor({ ackWaitMs });
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(await h.stepStarts(runId)).toEqual({ 'hook:1': 1, 'pause:1': 1, 'after:1': 1 });
    // At least once: the interrupted call ran again, with the same key for the receiver to dedupe.
    expect(keysOf('/once-stop')).toEqual([`${runId}:hook:1`, `${runId}:hook:1`]);
  });

  it('resumes after a crash (no ack, no goodbye) once the ack wait has passed', async () => {
    const doomed = await h.startExecutor({ ackWaitMs });
    const { runId } = await h.requestRun([
      { id: 'hook', type: 'http.request', input: { url: `${webhook.url}/once-crash` } },
      { id: 'next', type: 'delay', input: { ms: 10 }, dependsOn: ['hook'] },
    ]);
    await expect.poll(() => webhook.callsTo('/once-crash').length, settleTimeout).toBe(1);
    await doomed.crash();

    await h.startExecutor({ ackWaitMs });
    const state = await h.waitForEnd(runId);
    expect(state.status).toBe('succeeded');
    expect(await h.stepStarts(runId)).toEqual({ 'hook:1': 1, 'next:1': 1 });
    expect(keysOf('/once-crash')).toEqual([`${runId}:hook:1`, `${runId}:hook:1`]);
  });

  it('shares work between competing executors without a duplicate command or effect', async () => {
    const meta = { actor: 'tester', correlationId: 'setup', causationId: 'setup' };
    const campaign = await h.commands.handle(
      { type: 'CreateCampaign', data: { name: 'Counted', budget: { amount: 100, currency: 'EUR' } } },
      meta,
    );
    await h.commands.handle({ type: 'LaunchCampaign', aggregateId: campaign.id, data: {} }, meta);
    const [x, y] = [
      await h.startExecutor({ ackWaitMs, concurrency: 1 }),
      await h.startExecutor({ ackWaitMs, concurrency: 1 }),
    ];

    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        h.requestRun([
          { id: 'a', type: 'http.request', input: { url: `${webhook.url}/compete-a`, body: { n: 1 } } },
          { id: 'b', type: 'http.request', input: { url: `${webhook.url}/compete-b` } },
          { id: 'wait', type: 'delay', input: { ms: 50 }, dependsOn: ['a', 'b'] },
          {
            id: 'count',
            type: 'campaign.command',
            input: { type: 'RecordCampaignMetrics', aggregateId: campaign.id, data: { impressions: 1 } },
            dependsOn: ['wait'],
          },
        ]),
      ),
    );
    for (const { runId } of runs) {
      expect((await h.waitForEnd(runId)).status).toBe('succeeded');
      expect(await h.stepStarts(runId)).toEqual({ 'a:1': 1, 'b:1': 1, 'wait:1': 1, 'count:1': 1 });
    }

    // No two commits in the log share an idempotency key: every command took effect once.
    const commits = await h.store.readAll({ after: 0, limit: 100_000 });
    const keys = commits.flatMap((c) => (c.idempotencyKey ? [c.idempotencyKey] : []));
    expect(new Set(keys).size).toBe(keys.length);
    const state = (await h.commands.repository.load('campaign', campaign.id, { verify: true })).state as CampaignState;
    expect(state.impressions).toBe(6);
    for (const path of ['/compete-a', '/compete-b']) {
      expect(new Set(keysOf(path)).size).toBe(6);
      expect(keysOf(path)).toHaveLength(6);
    }
    // Both executors did part of the work.
    expect(await metricValue(x.registry, 'lightdom_executor_commands_total')).toBeGreaterThan(0);
    expect(await metricValue(y.registry, 'lightdom_executor_commands_total')).toBeGreaterThan(0);
  });
});
