import { type DecideContext, type Decider, type DomainEvent, LightdomError } from '@lightdom/domain';
import { expect } from 'vitest';
import type { ZodTypeAny } from 'zod';

/**
 * What every decider test needs: `cmd` builds a command whose data went through its
 * schema (defaults applied), `given` folds the events of commands decided in turn.
 */
export function deciderHarness<C extends { type: string }, E extends DomainEvent, S>(
  decider: Decider<C, E, S>,
  schemas: Readonly<Record<string, ZodTypeAny>>,
  ctx: DecideContext,
) {
  const cmd = (type: C['type'], data: unknown = {}): C => {
    const schema = schemas[type];
    if (!schema) throw new Error(`no schema for ${type}`);
    return { type, data: schema.parse(data) } as unknown as C;
  };
  const given = (...commands: C[]): S => {
    let state = decider.initialState();
    for (const c of commands) {
      for (const e of decider.decide(c, state, ctx)) state = decider.evolve(state, e);
    }
    return state;
  };
  return { cmd, given };
}

/** Runs `fn`, expecting a LightdomError with `code`; returns it for further checks. */
export function expectError(fn: () => unknown, code: string): LightdomError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LightdomError);
    expect((err as LightdomError).code).toBe(code);
    return err as LightdomError;
  }
  throw new Error(`expected ${code}`);
}
