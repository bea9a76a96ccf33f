import type { z } from 'zod';

/** An event as a decider produces it, before the store gives it an id. */
export interface DomainEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

/** Facts a decider may need that it must not fetch itself (clock, ids). */
export interface DecideContext {
  now: Date;
  aggregateId: string;
}

/**
 * A pure aggregate: `decide` turns a command and the current state into events (or
 * throws a LightdomError), `evolve` folds one event into the state.
 */
export interface Decider<C extends { type: string }, E extends DomainEvent, S> {
  aggregateType: string;
  initialState(): S;
  decide(command: C, state: S, ctx: DecideContext): E[];
  evolve(state: S, event: E): S;
}

/** A command type as the catalogue knows it. */
export interface CommandSpec {
  aggregateType: string;
  /** Schema of `data`. */
  schema: z.ZodTypeAny;
  /** `create` commands may omit the aggregate id (the server makes one). */
  kind: 'create' | 'update';
}

/** Event type → current schemaVersion. */
export type EventVersions = Record<string, number>;

/**
 * The `default` branch of every `evolve`: `event: never` keeps the compile-time check that
 * each event type is handled, and at run time an event unknown to this build (written by a
 * newer one during a rolling deploy) leaves the state as it was instead of corrupting it.
 */
export function ignoreUnknownEvent<S>(state: S, _event: never): S {
  return state;
}
