import { type ProjectionEvent, projectionDecider } from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';

const ctx = { now: new Date('2026-12-02T07:00:00Z'), aggregateId: 'campaigns' };
const given = (events: ProjectionEvent[]) => events.reduce(projectionDecider.evolve, projectionDecider.initialState());
const skip = (position: number, reason = 'numeric overflow') =>
  parseCommand({ type: 'SkipProjectionCommit', aggregateId: 'campaigns', data: { position, reason } });

describe('projection decider', () => {
  it('records a skip decision naming the projection, the position and the reason', () => {
    const { data } = skip(42, '  forged budget  ');
    const events = projectionDecider.decide({ type: 'SkipProjectionCommit', data } as never, given([]), ctx);
    expect(events).toEqual([
      { type: 'ProjectionCommitSkipped', data: { projection: 'campaigns', position: 42, reason: 'forged budget' } },
    ]);
  });

  it('records nothing for a position already decided', () => {
    const state = given([
      { type: 'ProjectionCommitSkipped', data: { projection: 'campaigns', position: 42, reason: 'r' } },
    ]);
    const { data } = skip(42);
    expect(projectionDecider.decide({ type: 'SkipProjectionCommit', data } as never, state, ctx)).toEqual([]);
    const next = skip(43);
    expect(
      projectionDecider.decide({ type: 'SkipProjectionCommit', data: next.data } as never, state, ctx),
    ).toHaveLength(1);
  });

  it('refuses a decision without a reason or position, and needs the projection as id', () => {
    expect(() => skip(0)).toThrow(/data.position/);
    expect(() => skip(1, '   ')).toThrow(/data.reason/);
    expect(() => parseCommand({ type: 'SkipProjectionCommit', data: { position: 1, reason: 'r' } })).toThrow(
      /aggregateId/,
    );
  });
});
