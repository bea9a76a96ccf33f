import { z } from 'zod';
import { roleSchema } from '../access.js';
import { aggregateIdSchema } from '../envelope.js';
import { freeFormObject, freeFormValue, text } from '../text.js';
import { signalNameSchema, workflowStepsSchema } from '../workflow/steps.js';

const stepIdSchema = text({ min: 1, max: 64 });

/** Schemas of each workflow-run command's `data`, keyed by command type. */
export const workflowRunCommandSchemas = {
  /** `steps` is a snapshot of the definition at `definitionVersion`: a run never sees later revisions. */
  RequestWorkflowRun: z
    .object({
      workflowId: aggregateIdSchema,
      definitionVersion: z.number().int().min(1),
      steps: workflowStepsSchema,
      input: freeFormObject().default({}),
      /**
       * Who asked for the run, with the role they had: the commands its steps issue are
       * authorised against it. Filled by the application core, never by a client.
       */
      requestedBy: z
        .object({ actor: text({ min: 1, max: 200 }), role: roleSchema })
        .strict()
        .optional(),
    })
    .strict(),
  StartWorkflowRun: z.object({}).strict(),
  /** `attempt` is 1 for the first try and one more for each retry; it must be the next one. */
  StartWorkflowStep: z.object({ stepId: stepIdSchema, attempt: z.number().int().min(1).max(100) }).strict(),
  CompleteWorkflowStep: z.object({ stepId: stepIdSchema, output: freeFormValue() }).strict(),
  /** The decider turns a failure into a scheduled retry or into the run's failure. */
  FailWorkflowStep: z
    .object({ stepId: stepIdSchema, error: text({ min: 1, max: 5000 }), retryable: z.boolean().default(false) })
    .strict(),
  CancelWorkflowRun: z.object({ reason: text({ min: 1, max: 500, trim: true }) }).strict(),
  /** Delivers a signal to the run's `wait.signal` step named `name`; `payload` becomes its output. */
  SignalWorkflowRun: z.object({ name: signalNameSchema, payload: freeFormObject().default({}) }).strict(),
} as const;

type Schemas = typeof workflowRunCommandSchemas;
export type WorkflowRunCommandType = keyof Schemas;

/** A validated workflow-run command: `{type, data}` with `data` parsed by its schema. */
export type WorkflowRunCommand = {
  [K in WorkflowRunCommandType]: { type: K; data: z.output<Schemas[K]> };
}[WorkflowRunCommandType];
