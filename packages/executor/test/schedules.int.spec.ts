import { createApplication } from '@lightdom/app';
import { isLightdomError, type StoredCommit } from '@lightdom/domain';
import { createCommandHandler } from '@lightdom/eventstore';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { scheduledRunId } from '../src/index.js';
import {
  createExecutorHarness,
  type ExecutorHarness,
  metricValue,
  settleTimeout,
  tester,
  testTokens,
} from './support/harness.js';

let h: ExecutorHarness;
const meta = { actor: tester.actor, correlationId: 'test', causationId: 'test' };
const minute = 60_000;

beforeAll(async () => {
  h = await createExecutorHarness('exsched');
  await h.commands.handle(
    {
      type: 'DefineWorkflow',
      aggregateId: 'nightly',
      data: { name: 'nightly', steps: [{ id: 'tick', type: 'delay', input: { ms: 0 } }] },
    },
    meta,
  );
});
afterAll(async () => h?.cleanup());
// A test that fails must not leave its executors (and their clock) firing into the next.
afterEach(async () => h?.stopExecutors());

/**
 * A clock the test moves, read by the executors and by the test's own command handler:
 * slots fall due when the test says. It starts half a minute past a minute boundary.
 */
function testClock() {
  let now = Math.floor(Date.now() / minute) * minute + minute / 2;
  return {
    now: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** The application core on the test's stream, deciding with `clock`. */
const coreAt = (clock: () => Date) =>
  createApplication({ commands: createCommandHandler({ store: h.store, clock }), store: h.store, tokens: testTokens });

const fired = async (scheduleId: string) =>
  (await h.store.readAggregate('schedule', scheduleId))
    .flatMap((c: StoredCommit) => c.events)
    .filter((e) => e.type === 'ScheduleFired')
    .map((e) => e.data as { slot: string; runId: string; missedSlots: number });

const problem = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err) => (isLightdomError(err) ? `${err.code} ${err.issues?.[0]?.field}` : String(err)),
  );

describe('schedules', () => {
  it('fires exactly once per slot with two executors running and one killed in between', async () => {
    const clock = testClock();
    const app = coreAt(clock.now);
    const { id: scheduleId } = await app.submit(
      tester,
      {
        type: 'CreateSchedule',
        data: { workflowId: 'nightly', cron: '* * * * *', timezone: 'Europe/Berlin', input: { batch: 7 } },
      },
      meta,
    );
    // A killed executor's unacknowledged commits come back after the ack wait: keep it short.
    const executor = () => h.startExecutor({ schedules: { tickMs: 25 }, ackWaitMs: 1000 }, { clock: clock.now });
    const a = await executor();
    const b = await executor();

    const slots: string[] = [];
    const nextSlot = async () => {
      clock.advance(minute);
      slots.push(new Date(Math.floor(clock.now().getTime() / minute) * minute).toISOString());
      await expect.poll(async () => (await fired(scheduleId)).map((f) => f.slot), settleTimeout).toEqual(slots);
    };
    await nextSlot();
    await nextSlot();
    await a.crash();
    await nextSlot();
    const c = await executor();
    await nextSlot();
    await b.crash();
    await nextSlot();
    // Every scheduler left ticks many more times at the same time: nothing more fires.
    await new Promise((r) => setTimeout(r, 400));

    // Each slot was fired by exactly one executor's FireSchedule; the others found it taken.
    const fires = async (result: string) => {
      let n = 0;
      for (const e of [a, b, c])
        n += await metricValue(e.registry, 'lightdom_executor_schedule_fires_total', { result });
      return n;
    };
    expect(await fires('fired')).toBe(5);
    expect(await fires('failed')).toBe(0);
    const all = await fired(scheduleId);
    expect(all.map((f) => f.slot)).toEqual(slots);
    expect(all.map((f) => f.missedSlots)).toEqual([0, 0, 0, 0, 0]);
    for (const f of all) {
      expect(f.runId).toBe(scheduledRunId(scheduleId, f.slot));
      await expect
        .poll(async () => (await h.runState(f.runId)).status, { ...settleTimeout, timeout: 30_000 })
        .toBe('succeeded');
      const run = await h.runState(f.runId);
      expect(run.source).toEqual({ kind: 'schedule', ref: `${scheduleId}@${f.slot}` });
      expect(run.input).toEqual({ batch: 7 });
      expect(run.requestedBy).toEqual(tester);
      const requests = (await h.runEvents(f.runId)).filter((e) => e.event.type === 'WorkflowRunRequested');
      expect(requests).toHaveLength(1);
      // Recorded as the schedule's creator, through the executor.
      expect(requests[0]!.commit.actor).toBe(tester.actor);
      expect(requests[0]!.commit.via).toBe('executor');
    }
    await h.stopExecutors();
  });

  it('fires nothing while paused and counts slots from the resume', async () => {
    const clock = testClock();
    const app = coreAt(clock.now);
    const { id } = await app.submit(
      tester,
      { type: 'CreateSchedule', data: { workflowId: 'nightly', cron: '* * * * *' } },
      meta,
    );
    await h.startExecutor({ schedules: { tickMs: 25 } }, { clock: clock.now });
    await app.submit(tester, { type: 'PauseSchedule', aggregateId: id, data: { reason: 'holiday' } }, meta);
    clock.advance(3 * minute);
    await new Promise((r) => setTimeout(r, 400));
    expect(await fired(id)).toEqual([]);

    await app.submit(tester, { type: 'ResumeSchedule', aggregateId: id, data: {} }, meta);
    await new Promise((r) => setTimeout(r, 300));
    expect(await fired(id)).toEqual([]);
    clock.advance(minute);
    const slot = new Date(Math.floor(clock.now().getTime() / minute) * minute).toISOString();
    await expect
      .poll(async () => (await fired(id)).map((f) => [f.slot, f.missedSlots]), settleTimeout)
      .toEqual([[slot, 0]]);
    await h.stopExecutors();
  });

  it('fires a one-time schedule once, at its time', async () => {
    const clock = testClock();
    const app = coreAt(clock.now);
    const at = new Date(clock.now().getTime() + 90_000).toISOString();
    const { id } = await app.submit(tester, { type: 'CreateSchedule', data: { workflowId: 'nightly', at } }, meta);
    await h.startExecutor({ schedules: { tickMs: 25 } }, { clock: clock.now });
    await new Promise((r) => setTimeout(r, 300));
    expect(await fired(id)).toEqual([]);
    clock.advance(5 * minute);
    await expect.poll(async () => (await fired(id)).map((f) => f.slot), settleTimeout).toEqual([at]);
    await new Promise((r) => setTimeout(r, 300));
    expect(await fired(id)).toHaveLength(1);
    await h.stopExecutors();
  });

  it('refuses a bad cron expression, time zone or workflow, naming the field', async () => {
    const app = coreAt(() => new Date());
    const create = (data: Record<string, unknown>) =>
      problem(app.submit(tester, { type: 'CreateSchedule', data: { workflowId: 'nightly', ...data } }, meta));
    expect(await create({ cron: '61 * * * *' })).toBe('VALIDATION_FAILED data.cron');
    expect(await create({ cron: '* * * * *', timezone: 'Mars/Base' })).toBe('VALIDATION_FAILED data.timezone');
    expect(await create({ cron: '* * * * *', at: '2027-01-01T00:00:00Z' })).toBe('VALIDATION_FAILED data.cron');
    expect(await create({ cron: '* * * * *', workflowId: 'no-such-flow' })).toBe('NOT_FOUND data.workflowId');
    expect(await create({ cron: '* * * * *', createdBy: { actor: 'x', role: 'admin' } })).toBe(
      'VALIDATION_FAILED data.createdBy',
    );
  });
});
