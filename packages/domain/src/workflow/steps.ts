import { z } from 'zod';
import { type FieldIssue, validationError } from '../errors.js';
import { freeFormObject } from '../text.js';
import { expressionLimits, workflowReferenceIssues } from './expressions.js';

export const stepTypeSchema = z.enum([
  'ai.generate',
  'http.request',
  'campaign.command',
  'delay',
  'chain.anchor',
  'wait.signal',
  'wait.event',
  'workflow.run',
]);
export type WorkflowStepType = z.infer<typeof stepTypeSchema>;

const stepIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -');

/** How often a failed step is tried again; `maxAttempts` counts the first attempt. */
export const retryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(100),
    /** Wait before the first retry, in ms. */
    backoffMs: z.number().int().nonnegative().max(86_400_000),
    /** Factor applied to the wait after each further failure. Default 1 (constant back-off). */
    backoffMultiplier: z.number().min(1).max(10).optional(),
  })
  .strict();
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

// --- http.request credentials (issue 7) ---
/** Header names whose values are credentials: they must reference a secret, never hold it. */
const credentialHeader =
  /^(authorization|proxy-authorization|cookie|set-cookie)$|api[-_]?key|token|secret|passw|credential|session|signature|auth/i;

/**
 * An http.request step may not carry credentials in the log: a credential header's value
 * must be `{"secret": NAME}` (resolved by the executor when the step runs), and the URL
 * may not hold a user name or password.
 */
function httpCredentialIssues(step: { type: string; input: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  if (step.type !== 'http.request') return;
  const { headers, url } = step.input;
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value === 'string' && credentialHeader.test(name) && name.toLowerCase() !== 'idempotency-key') {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['input', 'headers', name],
          message: 'is a credential: reference a secret by name, e.g. {"secret": "N8N_TOKEN"}, not a literal value',
        });
      }
    }
  }
  if (typeof url === 'string' && URL.canParse(url) && (new URL(url).username || new URL(url).password)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['input', 'url'],
      message: 'must not hold a user name or password: use a header referencing a secret',
    });
  }
}
// --- end http.request credentials ---

// --- waiting steps (issue 14) ---
/** Name of a signal: what `POST /api/runs/:id/signals/:name` names. */
export const signalNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z, a-z, 0-9, _, . or -');

/** A `wait.signal` step names its signal literally, so a signal can be checked against the run's steps. */
const waitSignalInputSchema = z.object({ name: signalNameSchema }).strict();

/** A `wait.event` step: the aggregate whose event it waits for (the id may be a template). */
export const waitEventInputSchema = z
  .object({
    aggregateType: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'must be an aggregate type, e.g. campaign'),
    aggregateId: z.string().min(1).max(200),
    eventType: z.string().regex(/^[A-Z][A-Za-z0-9]{0,99}$/, 'must be an event type, e.g. CampaignLaunched'),
  })
  .strict();

function waitingStepIssues(step: { type: string; input: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const schema =
    step.type === 'wait.signal' ? waitSignalInputSchema : step.type === 'wait.event' ? waitEventInputSchema : null;
  if (!schema) return;
  const parsed = schema.safeParse(step.input);
  if (parsed.success) return;
  for (const issue of parsed.error.issues) {
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['input', ...issue.path], message });
  }
}
// --- end waiting steps ---

export const workflowStepSchema = z
  .object({
    id: stepIdSchema,
    type: stepTypeSchema,
    input: freeFormObject().default({}),
    dependsOn: z.array(stepIdSchema).max(100).default([]),
    retry: retryPolicySchema.optional(),
    /** Longest one attempt may run, in ms; the executor fails the attempt after it. */
    timeoutMs: z.number().int().positive().max(86_400_000).optional(),
    /**
     * A condition over `input` and the ancestors' `steps.<id>.output` (an expression, see
     * expressions.ts): false skips the step. Absent: the step always runs.
     */
    when: z.string().min(1).max(expressionLimits.maxChars).optional(),
  })
  .strict()
  .superRefine(httpCredentialIssues)
  .superRefine(waitingStepIssues);
export type WorkflowStep = z.output<typeof workflowStepSchema>;

/**
 * Problems with a list of steps as a DAG: duplicate ids, dependencies on unknown or
 * repeated ids, cycles. Each issue's field is relative to the list, e.g. `2.dependsOn`.
 */
export function workflowDagIssues(steps: readonly Pick<WorkflowStep, 'id' | 'dependsOn'>[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const indexOf = new Map<string, number>();
  steps.forEach((step, i) => {
    if (indexOf.has(step.id))
      issues.push({ field: `${i}.id`, message: `duplicates the id of step ${indexOf.get(step.id)}` });
    else indexOf.set(step.id, i);
  });
  steps.forEach((step, i) => {
    const seen = new Set<string>();
    for (const dep of step.dependsOn) {
      if (!indexOf.has(dep)) issues.push({ field: `${i}.dependsOn`, message: `refers to unknown step ${dep}` });
      else if (seen.has(dep)) issues.push({ field: `${i}.dependsOn`, message: `lists ${dep} twice` });
      seen.add(dep);
    }
  });
  if (issues.length > 0) return issues;

  // Depth-first search; a dependency on a step still on the path closes a cycle.
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (i: number): void => {
    const step = steps[i]!;
    state.set(step.id, 'visiting');
    path.push(step.id);
    for (const dep of step.dependsOn) {
      const s = state.get(dep);
      if (s === 'visiting') {
        const cycle = [...path.slice(path.indexOf(dep)), dep].join(' -> ');
        issues.push({ field: `${i}.dependsOn`, message: `forms a cycle: ${cycle}` });
      } else if (s === undefined) visit(indexOf.get(dep)!);
    }
    path.pop();
    state.set(step.id, 'done');
  };
  steps.forEach((step, i) => {
    if (!state.has(step.id)) visit(i);
  });
  return issues;
}

/** A non-empty DAG of steps; every problem names the step's field, e.g. `steps.2.dependsOn`. */
export const workflowStepsSchema = z
  .array(workflowStepSchema)
  .min(1, 'must hold at least one step')
  .max(200)
  .superRefine((steps, ctx) => {
    for (const issue of workflowStepsIssues(steps)) {
      const [index, ...rest] = issue.field.split('.');
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [Number(index), ...rest], message: issue.message });
    }
  });

/** DAG problems first; the references of expressions only once the DAG is sound. */
function workflowStepsIssues(steps: readonly WorkflowStep[]): FieldIssue[] {
  const dag = workflowDagIssues(steps);
  return dag.length > 0 ? dag : workflowReferenceIssues(steps);
}

/**
 * Rejects steps that are not a DAG, or whose expressions refer to unknown or non-ancestor
 * steps, with VALIDATION_FAILED naming `data.steps.<i>.<field>`.
 * The schema already checks this; deciders check again because they may be called with
 * commands that never went through the schema.
 */
export function assertWorkflowDag(steps: readonly WorkflowStep[]): void {
  if (steps.length === 0) throw validationError([{ field: 'data.steps', message: 'must hold at least one step' }]);
  const issues = workflowStepsIssues(steps);
  if (issues.length > 0) throw validationError(issues.map((i) => ({ ...i, field: `data.steps.${i.field}` })));
}
