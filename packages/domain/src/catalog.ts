import { aiTaskCommandSchemas } from './aiTask/commands.js';
import { aiTaskDecider } from './aiTask/decider.js';
import { aiTaskEventVersions } from './aiTask/events.js';
import { auditCheckpointCommandSchemas } from './auditCheckpoint/commands.js';
import { auditCheckpointDecider } from './auditCheckpoint/decider.js';
import { auditCheckpointEventVersions } from './auditCheckpoint/events.js';
import { campaignCommandSchemas } from './campaign/commands.js';
import { campaignDecider } from './campaign/decider.js';
import { campaignEventVersions } from './campaign/events.js';
import { campaignUpcasters } from './campaign/upcasters.js';
import type { CommandSpec, Decider, DomainEvent, EventVersions } from './decider.js';
import { projectionCommandSchemas } from './projection/commands.js';
import { projectionDecider } from './projection/decider.js';
import { projectionEventVersions } from './projection/events.js';
import { scheduleCommandSchemas } from './schedule/commands.js';
import { scheduleDecider } from './schedule/decider.js';
import { scheduleEventVersions } from './schedule/events.js';
import { createUpcasterChain } from './upcasting.js';
import { workflowCommandSchemas } from './workflow/commands.js';
import { workflowDecider } from './workflow/decider.js';
import { workflowEventVersions } from './workflow/events.js';
import { workflowRunCommandSchemas } from './workflowRun/commands.js';
import { workflowRunDecider } from './workflowRun/decider.js';
import { workflowRunEventVersions } from './workflowRun/events.js';

// biome-ignore lint/suspicious/noExplicitAny: the registry holds deciders of every aggregate type.
export type AnyDecider = Decider<any, DomainEvent, any>;

/**
 * Commands that bring an aggregate into being; they may omit the aggregate id. The
 * `projection` aggregate has none: it is named by the read model it is about.
 */
export const createCommands: ReadonlySet<string> = new Set([
  'CreateCampaign',
  'DefineWorkflow',
  'RequestWorkflowRun',
  'RequestAiTask',
  'AnchorAuditCheckpoint',
  'CreateSchedule',
]);

/** Each aggregate type's command schemas. Aggregate types name NATS subjects: letters only. */
export const commandSchemasByAggregate = Object.freeze({
  campaign: campaignCommandSchemas,
  workflow: workflowCommandSchemas,
  workflowRun: workflowRunCommandSchemas,
  aiTask: aiTaskCommandSchemas,
  auditCheckpoint: auditCheckpointCommandSchemas,
  projection: projectionCommandSchemas,
  schedule: scheduleCommandSchemas,
}) satisfies Readonly<Record<string, Record<string, CommandSpec['schema']>>>;

/** Merges per-aggregate maps, refusing a key that two of them define (a spread would hide it). */
function mergeUnique<V>(what: string, maps: Record<string, V>[]): Record<string, V> {
  const merged: Record<string, V> = {};
  for (const map of maps) {
    for (const [key, value] of Object.entries(map)) {
      if (key in merged) throw new Error(`${what} ${key} is registered twice`);
      merged[key] = value;
    }
  }
  return merged;
}

function specs(aggregateType: string, schemas: Record<string, CommandSpec['schema']>): Record<string, CommandSpec> {
  return Object.fromEntries(
    Object.entries(schemas).map(([type, schema]) => [
      type,
      { aggregateType, schema, kind: createCommands.has(type) ? 'create' : 'update' } satisfies CommandSpec,
    ]),
  );
}

/** Every command the system accepts, by type. */
export const commandCatalog: Readonly<Record<string, CommandSpec>> = Object.freeze(
  mergeUnique(
    'command',
    Object.entries(commandSchemasByAggregate).map(([aggregateType, schemas]) => specs(aggregateType, schemas)),
  ),
);

/** Every aggregate's decider, by aggregate type. */
export const deciders: Readonly<Record<string, AnyDecider>> = Object.freeze({
  campaign: campaignDecider as AnyDecider,
  workflow: workflowDecider as AnyDecider,
  workflowRun: workflowRunDecider as AnyDecider,
  aiTask: aiTaskDecider as AnyDecider,
  auditCheckpoint: auditCheckpointDecider as AnyDecider,
  projection: projectionDecider as AnyDecider,
  schedule: scheduleDecider as AnyDecider,
});

/** Current schemaVersion of every event type. */
export const eventVersions: Readonly<EventVersions> = Object.freeze(
  mergeUnique('event', [
    campaignEventVersions,
    workflowEventVersions,
    workflowRunEventVersions,
    aiTaskEventVersions,
    auditCheckpointEventVersions,
    projectionEventVersions,
    scheduleEventVersions,
  ]),
);

/** Brings any stored event to its current shape. */
export const upcastEvent = createUpcasterChain([...campaignUpcasters]);
