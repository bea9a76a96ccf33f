import { initialScheduleState, type ScheduleState } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { dueSlot, scheduledRunId } from '../src/index.js';

const schedule = (over: Partial<ScheduleState>): ScheduleState => ({
  ...initialScheduleState(),
  exists: true,
  workflowId: 'w1',
  firesAfter: '2027-01-04T07:00:00.000Z',
  ...over,
});

describe('schedule slots', () => {
  it('takes cron times in the schedule’s time zone: 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer', () => {
    const winter = schedule({ cron: '0 9 * * *', timezone: 'Europe/Berlin' });
    expect(dueSlot(winter, new Date('2027-01-04T07:59:59Z'))).toBeNull();
    expect(dueSlot(winter, new Date('2027-01-04T08:00:30Z'))).toEqual({
      slot: new Date('2027-01-04T08:00:00Z'),
      missedSlots: 0,
    });
    const summer = schedule({ cron: '0 9 * * *', timezone: 'Europe/Berlin', firesAfter: '2027-07-05T06:00:00Z' });
    expect(dueSlot(summer, new Date('2027-07-05T07:00:01Z'))?.slot).toEqual(new Date('2027-07-05T07:00:00Z'));
  });

  it('fires the latest due slot after an outage and counts the ones passed over', () => {
    const minutely = schedule({ cron: '* * * * *', firesAfter: '2027-01-04T07:00:00.000Z' });
    expect(dueSlot(minutely, new Date('2027-01-04T07:05:10Z'))).toEqual({
      slot: new Date('2027-01-04T07:05:00Z'),
      missedSlots: 4,
    });
  });

  it('does not fire the slot it fired last again, nor a paused or deleted schedule', () => {
    const fired = schedule({ cron: '* * * * *', firesAfter: '2027-01-04T07:05:00.000Z' });
    expect(dueSlot(fired, new Date('2027-01-04T07:05:59Z'))).toBeNull();
    expect(dueSlot({ ...fired, status: 'paused' }, new Date('2027-01-04T08:00:00Z'))).toBeNull();
    expect(dueSlot({ ...fired, status: 'deleted' }, new Date('2027-01-04T08:00:00Z'))).toBeNull();
  });

  it('fires a one-time schedule at its time, once', () => {
    const once = schedule({ at: '2027-01-04T09:30:00.000Z', firesAfter: '2027-01-04T09:29:59.999Z' });
    expect(dueSlot(once, new Date('2027-01-04T09:29:00Z'))).toBeNull();
    expect(dueSlot(once, new Date('2027-01-04T10:00:00Z'))).toEqual({
      slot: new Date('2027-01-04T09:30:00Z'),
      missedSlots: 0,
    });
    expect(dueSlot({ ...once, status: 'completed' }, new Date('2027-01-04T10:00:00Z'))).toBeNull();
  });

  it('derives one run id per slot, the same on every executor', () => {
    const a = scheduledRunId('s1', '2027-01-04T09:30:00.000Z');
    expect(a).toBe(scheduledRunId('s1', '2027-01-04T09:30:00Z'));
    expect(a).not.toBe(scheduledRunId('s1', '2027-01-04T09:31:00Z'));
    expect(a).not.toBe(scheduledRunId('s2', '2027-01-04T09:30:00Z'));
    expect(a).toMatch(/^sch-[0-9a-f]{40}$/);
  });
});
