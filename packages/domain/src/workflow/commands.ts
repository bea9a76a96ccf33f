import { z } from 'zod';
import { text } from '../text.js';
import { workflowStepsSchema } from './steps.js';

/** Schemas of each workflow-definition command's `data`, keyed by command type. */
export const workflowCommandSchemas = {
  DefineWorkflow: z
    .object({
      name: text({ min: 1, max: 200, trim: true }),
      description: text({ max: 5000 }).default(''),
      steps: workflowStepsSchema,
    })
    .strict(),
  /** Replaces the steps; the definition's version goes up by one. */
  ReviseWorkflow: z.object({ steps: workflowStepsSchema }).strict(),
  DeprecateWorkflow: z.object({ reason: text({ max: 500 }).optional() }).strict(),
} as const;

type Schemas = typeof workflowCommandSchemas;
export type WorkflowCommandType = keyof Schemas;

/** A validated workflow command: `{type, data}` with `data` parsed by its schema. */
export type WorkflowCommand = {
  [K in WorkflowCommandType]: { type: K; data: z.output<Schemas[K]> };
}[WorkflowCommandType];
