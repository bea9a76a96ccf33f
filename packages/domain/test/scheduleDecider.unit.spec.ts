import { scheduleCommandSchemas, scheduleDecider } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { deciderHarness, expectError } from './support/deciders.js';

const now = new Date('2027-01-04T09:00:30Z');
const ctx = { now, aggregateId: 's1' };
const { cmd, given } = deciderHarness(scheduleDecider, scheduleCommandSchemas, ctx);
const decide = (state: ReturnType<typeof given>, c: ReturnType<typeof cmd>) => scheduleDecider.decide(c, state, ctx);
const cron = () => cmd('CreateSchedule', { workflowId: 'w1', cron: '* * * * *', timezone: 'Europe/Berlin' });
const fire = (slot: string, runId = `r-${slot.replace(/\W/g, '')}`) => cmd('FireSchedule', { slot, runId });

describe('schedule decider', () => {
  it('creates a cron schedule counted from its creation, in its time zone', () => {
    expect(decide(given(), cron())).toEqual([
      {
        type: 'ScheduleCreated',
        data: {
          workflowId: 'w1',
          definitionVersion: null,
          input: {},
          cron: '* * * * *',
          timezone: 'Europe/Berlin',
          at: null,
          createdAt: now.toISOString(),
          createdBy: null,
        },
      },
    ]);
    expect(given(cron()).firesAfter).toBe(now.toISOString());
  });

  it('fires each slot once: the same slot or an earlier one is refused', () => {
    const created = given(cron());
    expectError(() => decide(created, fire('2027-01-04T09:00:00Z')), 'ALREADY_EXISTS');
    const c2 = { now: new Date('2027-01-04T09:02:10Z'), aggregateId: 's1' };
    let state = created;
    for (const e of scheduleDecider.decide(fire('2027-01-04T09:01:00Z'), state, c2))
      state = scheduleDecider.evolve(state, e);
    expect(state).toMatchObject({ lastSlot: '2027-01-04T09:01:00.000Z', fired: 1 });
    expectError(() => scheduleDecider.decide(fire('2027-01-04T09:01:00Z', 'other'), state, c2), 'ALREADY_EXISTS');
    // Not due yet.
    expectError(() => scheduleDecider.decide(fire('2027-01-04T09:03:00Z'), state, c2), 'INVARIANT_VIOLATION');
  });

  it('pauses, resumes from now and deletes; a paused or deleted schedule does not fire', () => {
    const paused = given(cron(), cmd('PauseSchedule', { reason: 'holiday' }));
    expectError(() => decide(paused, fire('2027-01-04T09:00:00Z')), 'INVALID_TRANSITION');
    const resumed = given(cron(), cmd('PauseSchedule'), cmd('ResumeSchedule'));
    expect(resumed).toMatchObject({ status: 'active', firesAfter: now.toISOString() });
    const deleted = given(cron(), cmd('DeleteSchedule'));
    expectError(() => decide(deleted, cmd('ResumeSchedule')), 'INVALID_TRANSITION');
    expectError(() => decide(deleted, fire('2027-01-04T09:00:00Z')), 'INVALID_TRANSITION');
  });

  it('fires a one-time schedule at its time only, then completes', () => {
    const once = given(cmd('CreateSchedule', { workflowId: 'w1', at: '2027-01-04T08:00:00+01:00' }));
    expect(once.at).toBe('2027-01-04T07:00:00.000Z');
    expectError(() => decide(once, fire('2027-01-04T08:00:00Z')), 'INVARIANT_VIOLATION');
    const done = given(
      cmd('CreateSchedule', { workflowId: 'w1', at: '2027-01-04T07:00:00Z' }),
      fire('2027-01-04T07:00:00Z'),
    );
    expect(done.status).toBe('completed');
  });

  it('names the field of a bad schedule', () => {
    const issues = (data: unknown) =>
      scheduleCommandSchemas.CreateSchedule.safeParse(data).error?.issues.map((i) => i.path.join('.'));
    expect(issues({ workflowId: 'w1' })).toEqual(['cron']);
    expect(issues({ workflowId: 'w1', cron: '* * * * *', at: '2027-01-01T00:00:00Z' })).toEqual(['cron']);
    expect(issues({ workflowId: 'w1', cron: '* * * * *', timezone: 'Nowhere/Else' })).toEqual(['timezone']);
    expect(issues({ workflowId: 'w1', at: 'tomorrow' })).toEqual(['at']);
  });
});
