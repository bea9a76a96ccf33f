import { campaignCommandSchemas } from './campaign/commands.js';
import { campaignDecider } from './campaign/decider.js';
import { campaignEventVersions } from './campaign/events.js';
import { campaignUpcasters } from './campaign/upcasters.js';
import type { CommandSpec, Decider, DomainEvent, EventVersions } from './decider.js';
import { createUpcasterChain } from './upcasting.js';

// biome-ignore lint/suspicious/noExplicitAny: the registry holds deciders of every aggregate type.
export type AnyDecider = Decider<any, DomainEvent, any>;

const createCommands = new Set(['CreateCampaign']);

function specs(aggregateType: string, schemas: Record<string, CommandSpec['schema']>) {
  return Object.fromEntries(
    Object.entries(schemas).map(([type, schema]) => [
      type,
      { aggregateType, schema, kind: createCommands.has(type) ? 'create' : 'update' } satisfies CommandSpec,
    ]),
  );
}

/** Every command the system accepts, by type. */
export const commandCatalog: Readonly<Record<string, CommandSpec>> = Object.freeze({
  ...specs('campaign', campaignCommandSchemas),
});

/** Every aggregate's decider, by aggregate type. */
export const deciders: Readonly<Record<string, AnyDecider>> = Object.freeze({
  campaign: campaignDecider as AnyDecider,
});

/** Current schemaVersion of every event type. */
export const eventVersions: Readonly<EventVersions> = Object.freeze({ ...campaignEventVersions });

/** Brings any stored event to its current shape. */
export const upcastEvent = createUpcasterChain([...campaignUpcasters]);
