import { z } from 'zod';
import { roleSchema } from '../access.js';
import { aggregateIdSchema } from '../envelope.js';
import { freeFormObject, freeFormValue, text } from '../text.js';
import { signalNameSchema, workflowStepsSchema } from '../workflow/steps.js';

const stepIdSchema = text({ min: 1, max: 64 });

// --- run control (issue 14 part B) ---
/** Where a run came from, e.g. `{kind: "n8n", ref: "<n8n workflow>/<execution>"}`; shown in the read model. */
export const runSourceSchema = z
  .object({
    kind: z
      .string()
      .regex(/^[a-z][a-z0-9_.-]{0,39}$/, 'must be 1-40 characters of a-z, 0-9, _ . or -, starting with a letter'),
    ref: text({ max: 200 }).optional(),
  })
  .strict();
export type RunSource = z.output<typeof runSourceSchema>;

/** The step of another run that started this one as a child (`workflow.run`); set by the executor only. */
export const runParentSchema = z
  .object({
    runId: aggregateIdSchema,
    stepId: stepIdSchema,
    attempt: z.number().int().min(1).max(100),
    /** 1 for a child of a top-level run, one more per level; filled by the application core. */
    depth: z.number().int().min(1).max(100).optional(),
  })
  .strict();
export type RunParent = z.output<typeof runParentSchema>;

const runControlCommandSchemas = {
  /** No new step starts while paused; running steps finish and their outcomes are recorded. */
  PauseWorkflowRun: z.object({ reason: text({ max: 500, trim: true }).optional() }).strict(),
  ResumeWorkflowRun: z.object({}).strict(),
  /** Starts a failed step again (its next attempt) and puts its failed run back to started. */
  RetryWorkflowStep: z.object({ stepId: stepIdSchema }).strict(),
} as const;
// --- end run control ---

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
      source: runSourceSchema.optional(),
      parent: runParentSchema.optional(),
    })
    .strict(),
  StartWorkflowRun: z.object({}).strict(),
  /** `attempt` is 1 for the first try and one more for each retry; it must be the next one. */
  StartWorkflowStep: z.object({ stepId: stepIdSchema, attempt: z.number().int().min(1).max(100) }).strict(),
  CompleteWorkflowStep: z
    .object({
      stepId: stepIdSchema,
      output: freeFormValue(),
      /** When given, the outcome is for this attempt only (a late child run's result must not end a later one). */
      attempt: z.number().int().min(1).max(100).optional(),
    })
    .strict(),
  /** The decider turns a failure into a scheduled retry or into the run's failure. */
  FailWorkflowStep: z
    .object({
      stepId: stepIdSchema,
      error: text({ min: 1, max: 5000 }),
      retryable: z.boolean().default(false),
      /** As CompleteWorkflowStep's. */
      attempt: z.number().int().min(1).max(100).optional(),
    })
    .strict(),
  CancelWorkflowRun: z.object({ reason: text({ min: 1, max: 500, trim: true }) }).strict(),
  /** Delivers a signal to the run's `wait.signal` step named `name`; `payload` becomes its output. */
  SignalWorkflowRun: z.object({ name: signalNameSchema, payload: freeFormObject().default({}) }).strict(),
  ...runControlCommandSchemas,
} as const;

type Schemas = typeof workflowRunCommandSchemas;
export type WorkflowRunCommandType = keyof Schemas;

/** A validated workflow-run command: `{type, data}` with `data` parsed by its schema. */
export type WorkflowRunCommand = {
  [K in WorkflowRunCommandType]: { type: K; data: z.output<Schemas[K]> };
}[WorkflowRunCommandType];
