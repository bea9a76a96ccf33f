import {
  commandCatalog,
  commandEnvelopeSchema,
  type FieldIssue,
  freeFormObject,
  runSourceSchema,
  text,
  validationError,
} from '@lightdom/domain';
import { z } from 'zod';

/**
 * The bodies of the HTTP routes, as zod schemas: the OpenAPI document is generated from
 * them, and the routes (or the core, for command data) validate with them.
 */

/** Any JSON object: the command's own schema (in the core) names each bad field. */
export const freeBody = z.record(z.unknown());

/** `POST /api/commands`: the envelope every protocol takes. */
export const commandBody = commandEnvelopeSchema;

const dataOf = (type: string) => {
  const spec = commandCatalog[type];
  if (!spec) throw new Error(`${type} is not in the command catalogue`);
  return spec.schema;
};

export const defineWorkflowBody = dataOf('DefineWorkflow');
export const cancelRunBody = dataOf('CancelWorkflowRun');
export const aiTaskBody = dataOf('RequestAiTask');
export const cancelAiTaskBody = dataOf('CancelAiTask');

/** `POST /api/runs/:id/signals/:name`: the payload the run's wait.signal step takes as its output. */
export const signalRunBody = z
  .object({
    /** Becomes the output of the wait.signal step waiting for the signal. Default `{}`. */
    payload: freeFormObject().optional(),
  })
  .strict();

/** `POST /api/workflows/:id/runs`: only the input (and which definition); never steps. */
export const startRunBody = z
  .object({
    /** The run's input, available to its steps. */
    input: freeFormObject().default({}),
    /** A version of the definition; absent: the current one. */
    definitionVersion: z.number().int().min(1).max(1_000_000).optional(),
    /** Where the run comes from, e.g. `{"kind": "n8n", "ref": "<workflow>/<execution>"}`; shown on the run. */
    source: runSourceSchema.optional(),
    /** Same as the `Idempotency-Key` header. */
    idempotencyKey: text({ min: 1, max: 200 }).optional(),
  })
  .strict();

/** Parses a body, naming each bad field (`steps` when a client sends steps of its own). */
export function parseBody<T extends z.ZodTypeAny>(schema: T, body: unknown): z.output<T> {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw validationError([{ field: '(body)', message: 'must be a JSON object' }], 'The body must be a JSON object');
  }
  if ((schema as z.ZodTypeAny) === startRunBody && Object.hasOwn(body as object, 'steps')) {
    throw validationError([
      { field: 'steps', message: "must not be sent: a run's steps come from its workflow's definition" },
    ]);
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issues: FieldIssue[] = r.error.issues.slice(0, 20).map((i) => ({
    field: i.code === z.ZodIssueCode.unrecognized_keys ? i.keys.join(', ').slice(0, 200) : i.path.join('.') || '(body)',
    message: i.code === z.ZodIssueCode.unrecognized_keys ? 'is not a field of this body' : i.message,
  }));
  throw validationError(issues);
}
