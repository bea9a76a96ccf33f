import { z } from 'zod';
import type { FieldIssue } from './errors.js';
import { envelopeDataLimits, freeFormObject, text, textProblem } from './text.js';

/** One domain event inside a commit. */
export interface EventRecord<T extends string = string, D = unknown> {
  id: string;
  type: T;
  schemaVersion: number;
  data: D;
}

/**
 * The body of one JetStream message: every event one command produced, in order.
 * One message is one commit, so a multi-event command is atomic even on
 * nats-server 2.9, which has no atomic batch publish.
 */
export interface Commit {
  commitId: string;
  aggregateType: string;
  aggregateId: string;
  /** The aggregate's version (number of events) after this commit. */
  version: number;
  /** Stream sequence of the aggregate's previous commit; 0 for the first commit. */
  previousPosition: number;
  correlationId: string;
  causationId: string;
  actor: string;
  /**
   * The service that issued the command on `actor`'s behalf (the executor running a step of
   * a run `actor` requested); absent when `actor` sent it.
   */
  via?: string;
  /** ISO-8601 time at which the command was decided. */
  timestamp: string;
  commandType: string;
  /** sha256 of the canonical command, used to tell a retry from a reused key. */
  commandFingerprint: string;
  idempotencyKey?: string;
  events: EventRecord[];
  /** Hash of the aggregate's previous commit, or null for the first commit. */
  prevHash: string | null;
  /** sha256 over the canonical encoding of every other field. */
  hash: string;
}

/** A commit as read back from the log, with its global position (stream sequence). */
export interface StoredCommit extends Commit {
  position: number;
}

/** One event as delivered to readers and subscribers. */
export interface RecordedEvent {
  position: number;
  commitId: string;
  aggregateType: string;
  aggregateId: string;
  /** The aggregate's version after this event. */
  version: number;
  /** Index of the event inside its commit. */
  index: number;
  id: string;
  type: string;
  schemaVersion: number;
  data: unknown;
  timestamp: string;
  correlationId: string;
  causationId: string;
  actor: string;
  /** See {@link Commit.via}. */
  via?: string;
}

export function toRecordedEvents(commit: StoredCommit): RecordedEvent[] {
  const first = commit.version - commit.events.length;
  return commit.events.map((e, index) => ({
    position: commit.position,
    commitId: commit.commitId,
    aggregateType: commit.aggregateType,
    aggregateId: commit.aggregateId,
    version: first + index + 1,
    index,
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    data: e.data,
    timestamp: commit.timestamp,
    correlationId: commit.correlationId,
    causationId: commit.causationId,
    actor: commit.actor,
    ...(commit.via ? { via: commit.via } : {}),
  }));
}

const aggregateIdPattern = /^[A-Za-z0-9_-]{1,100}$/;

export const aggregateIdSchema = z
  .string()
  .regex(aggregateIdPattern, 'must be 1-100 characters of A-Z, a-z, 0-9, _ or -');

/** The command envelope that every gateway accepts. */
export const commandEnvelopeSchema = z
  .object({
    type: text({ min: 1, max: 200 }),
    aggregateId: aggregateIdSchema.optional(),
    expectedVersion: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    idempotencyKey: text({ min: 1, max: 200 }).optional(),
    // Bounded before anything hashes it; each free-form field inside has tighter bounds.
    data: freeFormObject(envelopeDataLimits).default({}),
  })
  .strict();

export type CommandEnvelope = z.infer<typeof commandEnvelopeSchema>;

/** Who sent a command and what it belongs to; supplied by the gateway, not the client body. */
export interface CommandMetadata {
  actor: string;
  /** The service issuing it on `actor`'s behalf (see {@link Commit.via}). */
  via?: string;
  correlationId: string;
  /** Id of the message that caused this command (an HTTP request id, an event id). */
  causationId: string;
  traceparent?: string;
}

/**
 * Problems with the metadata an edge took from the client (a correlation id header, an
 * AMQP property): it goes into the commit, so it must be storable text like the rest.
 */
export function commandMetadataIssues(meta: CommandMetadata): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const field of ['actor', 'correlationId', 'causationId', 'via'] as const) {
    const value = meta[field];
    if (field === 'via' && value === undefined) continue;
    const problem = typeof value === 'string' ? textProblem(value) : 'must be a string';
    if (problem) issues.push({ field, message: problem });
  }
  return issues;
}

/** What every gateway returns for an accepted command. */
export interface CommandResult {
  id: string;
  version: number;
  position: number;
  /** True when this is the remembered result of an earlier identical command. */
  duplicate: boolean;
  commitId: string;
  events: string[];
}
