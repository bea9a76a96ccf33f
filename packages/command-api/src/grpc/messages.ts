import { type CommandResult, LightdomError, type RecordedEvent } from '@lightdom/domain';
import { zodIssues } from '@lightdom/eventstore';
import { z } from 'zod';
import type { CampaignView } from '../readModel/campaignQueries.js';

/**
 * The `lightdom.v1` messages as proto-loader hands them over with {@link protoLoaderOptions}:
 * camelCase fields, zero values for unset scalars, proto3 `optional` fields absent unless sent.
 */
export interface CommandRequestMessage {
  type: string;
  aggregateId: string;
  expectedVersion?: number;
  idempotencyKey: string;
  /** JSON object; empty means `{}`. */
  data: string;
}

/** Same fields as the domain's result. */
export type CommandResultMessage = CommandResult;

export interface EventMessage extends Omit<RecordedEvent, 'data'> {
  /** JSON. */
  data: string;
}

export interface ReadRequestMessage {
  after: number;
  limit: number;
  aggregateType: string;
  type: string;
}

export interface ReadResponseMessage {
  events: EventMessage[];
  nextAfter: number;
  hasMore: boolean;
}

export interface SubscribeRequestMessage {
  after?: number;
  afterIndex?: number;
  aggregateType: string;
  aggregateId: string;
  types: string[];
}

export interface CampaignMessage {
  id: string;
  name: string;
  description: string;
  status: string;
  channels: string[];
  budget: { amount: number; currency: string };
  owner: string;
  schedule: { startAt: string; endAt: string } | null;
  launchedAt: string;
  metrics: CampaignView['metrics'];
  version: number;
  position: number;
  createdAt: string;
  updatedAt: string;
}

export interface GetCampaignRequestMessage {
  id: string;
  minPosition?: number;
  allowStale: boolean;
}

export interface GetCampaignResponseMessage {
  campaign: CampaignMessage;
  readModelPosition: number;
  stale: boolean;
}

export interface ListCampaignsRequestMessage {
  status: string;
  limit: number;
  cursor: string;
  minPosition?: number;
  allowStale: boolean;
}

export interface ListCampaignsResponseMessage {
  items: CampaignMessage[];
  nextCursor: string;
  /** The read models' position, as every list names it (field 5). */
  position: number;
  /** The same position under its older name (field 3). */
  readModelPosition: number;
  stale: boolean;
}

export interface ExecuteWorkflowRequestMessage {
  workflowId: string;
  definitionVersion?: number;
  /** JSON object; empty means `{}`. */
  input: string;
  idempotencyKey: string;
}

export interface SignalRunRequestMessage {
  runId: string;
  name: string;
  /** JSON object; empty means `{}`. */
  payload: string;
  idempotencyKey: string;
}

export const toEventMessage = (e: RecordedEvent): EventMessage => ({ ...e, data: JSON.stringify(e.data ?? null) });

export const toCampaignMessage = (c: CampaignView): CampaignMessage => ({
  id: c.id,
  name: c.name,
  description: c.description,
  status: c.status,
  channels: c.channels,
  budget: c.budget,
  owner: c.owner ?? '',
  schedule: c.schedule ? { startAt: c.schedule.startAt, endAt: c.schedule.endAt ?? '' } : null,
  launchedAt: c.launchedAt ?? '',
  metrics: c.metrics,
  version: c.version,
  position: c.position,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

/**
 * A log position or version in a `uint64` field. The wire allows up to 2^64-1 (a client
 * that encodes -1 sends that), and proto-loader turns it into an imprecise JS number: any
 * value past 2^53-1 is refused, naming the field, before it reaches JetStream.
 */
export const logPosition = z
  .number()
  .int()
  .nonnegative()
  .max(Number.MAX_SAFE_INTEGER, 'must be a position between 0 and 2^53-1');

/** An event's index inside its commit (`uint32`). */
export const eventIndex = z.number().int().nonnegative().max(0xffff_ffff);

/** A JSON-carrying string field: empty means `{}`, anything else must be a JSON object. */
export function parseJsonObject(field: string, text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LightdomError('VALIDATION_FAILED', `${field} is not valid JSON`, {
      issues: [{ field, message: `must be a JSON object (${(err as Error).message})` }],
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LightdomError('VALIDATION_FAILED', `${field} must be a JSON object`, {
      issues: [{ field, message: 'must be a JSON object' }],
    });
  }
  return value as Record<string, unknown>;
}

/** Validates a request message; each problem names its field. */
export function parseRequest<T extends z.ZodTypeAny>(schema: T, request: unknown): z.output<T> {
  const r = schema.safeParse(request);
  if (!r.success) {
    const issues = zodIssues(r.error, '');
    throw new LightdomError('VALIDATION_FAILED', `Invalid ${issues.map((i) => i.field).join(', ')}`, { issues });
  }
  return r.data;
}
