import { z } from 'zod';
import { moneySchema } from '../money.js';
import { text } from '../text.js';

const isoDateTime = z.string().datetime({ offset: true, message: 'must be an ISO-8601 date-time' });

export const channelSchema = z.enum(['email', 'sms', 'push', 'social', 'search', 'display', 'web']);

export const scheduleSchema = z
  .object({ startAt: isoDateTime, endAt: isoDateTime.optional() })
  .strict()
  .refine((s) => !s.endAt || Date.parse(s.endAt) > Date.parse(s.startAt), {
    message: 'must be after startAt',
    path: ['endAt'],
  });

const count = z.number().int('must be an integer').nonnegative().max(1e12);

/** Schemas of each campaign command's `data`, keyed by command type. */
export const campaignCommandSchemas = {
  CreateCampaign: z
    .object({
      name: text({ min: 1, max: 200, trim: true }),
      description: text({ max: 5000 }).default(''),
      channels: z.array(channelSchema).max(7).default([]),
      budget: moneySchema,
      schedule: scheduleSchema.optional(),
      owner: text({ min: 1, max: 200 }).optional(),
    })
    .strict(),
  RenameCampaign: z.object({ name: text({ min: 1, max: 200, trim: true }) }).strict(),
  /** Changes any of name, description and budget atomically (one commit). */
  UpdateCampaign: z
    .object({
      name: text({ min: 1, max: 200, trim: true }).optional(),
      description: text({ max: 5000 }).optional(),
      budget: moneySchema.optional(),
    })
    .strict()
    .refine((d) => d.name !== undefined || d.description !== undefined || d.budget !== undefined, {
      message: 'must change at least one of name, description, budget',
    }),
  ChangeCampaignBudget: z.object({ budget: moneySchema }).strict(),
  ScheduleCampaign: scheduleSchema,
  LaunchCampaign: z.object({}).strict(),
  PauseCampaign: z.object({ reason: text({ max: 500 }).optional() }).strict(),
  ResumeCampaign: z.object({}).strict(),
  CompleteCampaign: z.object({}).strict(),
  ArchiveCampaign: z.object({}).strict(),
  RecordCampaignMetrics: z
    .object({
      impressions: count.default(0),
      clicks: count.default(0),
      conversions: count.default(0),
      spend: moneySchema.shape.amount.default(0),
    })
    .strict(),
} as const;

type Schemas = typeof campaignCommandSchemas;
export type CampaignCommandType = keyof Schemas;

/** A validated campaign command: `{type, data}` with `data` parsed by its schema. */
export type CampaignCommand = {
  [K in CampaignCommandType]: { type: K; data: z.output<Schemas[K]> };
}[CampaignCommandType];
