import { describe, expect, it } from 'vitest';
import { nextSlot } from '../src/index.js';

const cron = (expression: string, timezone = 'UTC') => ({ status: 'active', cron: expression, timezone, at: null });

describe('nextSlot', () => {
  it('is the next cron time in the schedule’s time zone, across a daylight-saving change', () => {
    // Friday 13:00 in Berlin: the next weekday 09:00 is Monday, 08:00 UTC (winter time).
    expect(nextSlot(cron('0 9 * * 1-5', 'Europe/Berlin'), new Date('2027-01-01T12:00:00Z'))).toBe(
      '2027-01-04T08:00:00.000Z',
    );
    // Berlin moves to summer time on 28 March 2027: 09:00 is then 07:00 UTC.
    expect(nextSlot(cron('0 9 * * *', 'Europe/Berlin'), new Date('2027-03-27T12:00:00Z'))).toBe(
      '2027-03-28T07:00:00.000Z',
    );
    expect(nextSlot(cron('*/15 * * * *'), new Date('2027-01-01T12:07:00Z'))).toBe('2027-01-01T12:15:00.000Z');
  });

  it('is the time of a one-time schedule, and null for a schedule that will not fire', () => {
    const at = { status: 'active', cron: null, timezone: 'UTC', at: '2030-01-01T00:00:00.000Z' };
    expect(nextSlot(at, new Date('2027-01-01T00:00:00Z'))).toBe(at.at);
    for (const status of ['paused', 'completed', 'deleted']) {
      expect(nextSlot({ ...cron('* * * * *'), status })).toBeNull();
      expect(nextSlot({ ...at, status })).toBeNull();
    }
    // A cron time that never comes again (30 February), and an expression croner refuses.
    expect(nextSlot(cron('0 0 30 2 *'))).toBeNull();
    expect(nextSlot(cron('not a cron'))).toBeNull();
  });
});
