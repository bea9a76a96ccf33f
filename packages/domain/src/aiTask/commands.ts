import { z } from 'zod';
import { aggregateIdSchema } from '../envelope.js';
import { freeFormObject, text } from '../text.js';

export const aiMessageSchema = z
  .object({ role: z.enum(['system', 'user', 'assistant']), content: text({ max: 200_000 }) })
  .strict();
export type AiMessage = z.infer<typeof aiMessageSchema>;

const count = z.number().int('must be an integer').nonnegative().max(1e9);

/** Schemas of each AI-task command's `data`, keyed by command type. */
export const aiTaskCommandSchemas = {
  /**
   * Exactly one of `prompt` and `messages`. `options` go to the model as they are
   * (temperature, num_ctx, …). `maxAttempts` bounds retryable failures (default 3).
   */
  RequestAiTask: z
    .object({
      model: text({ min: 1, max: 200, trim: true }),
      prompt: text({ min: 1, max: 200_000 }).optional(),
      messages: z.array(aiMessageSchema).min(1).max(500).optional(),
      options: freeFormObject().default({}),
      maxAttempts: z.number().int().min(1).max(10).default(3),
      workflowRunId: aggregateIdSchema.optional(),
      stepId: text({ min: 1, max: 64 }).optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      if (d.prompt === undefined && d.messages === undefined) {
        ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'either prompt or messages is required' });
      }
      if (d.prompt !== undefined && d.messages !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['messages'], message: 'must not be given together with prompt' });
      }
      if (d.stepId !== undefined && d.workflowRunId === undefined) {
        ctx.addIssue({ code: 'custom', path: ['workflowRunId'], message: 'is required with stepId' });
      }
    }),
  StartAiTask: z.object({ workerId: text({ min: 1, max: 200 }) }).strict(),
  /** `partialText` is the whole output so far (throttled), `tokens` the completion tokens so far. */
  RecordAiTaskProgress: z.object({ partialText: text({ max: 1_000_000 }), tokens: count }).strict(),
  /** `reasoning` holds the thinking of DeepSeek-R1 style models, kept apart from the answer. */
  CompleteAiTask: z
    .object({
      text: text({ max: 1_000_000 }),
      reasoning: text({ max: 1_000_000 }).nullable().optional(),
      promptTokens: count,
      completionTokens: count,
      durationMs: count,
    })
    .strict(),
  FailAiTask: z.object({ error: text({ min: 1, max: 5000 }), retryable: z.boolean().default(false) }).strict(),
  CancelAiTask: z.object({ reason: text({ max: 500 }).optional() }).strict(),
} as const;

type Schemas = typeof aiTaskCommandSchemas;
export type AiTaskCommandType = keyof Schemas;

/** A validated AI-task command: `{type, data}` with `data` parsed by its schema. */
export type AiTaskCommand = {
  [K in AiTaskCommandType]: { type: K; data: z.output<Schemas[K]> };
}[AiTaskCommandType];
