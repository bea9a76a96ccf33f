import {
  aggregateIdSchema,
  type FieldIssue,
  freeFormObject,
  type Identity,
  LightdomError,
  type RunParent,
  runParentSchema,
  runSourceSchema,
  validationError,
  type WorkflowState,
  type WorkflowStep,
  workflowDecider,
} from '@lightdom/domain';
import { type CommandHandler, type EventStore, foldCommits, type LoadedAggregate } from '@lightdom/eventstore';
import { z } from 'zod';

/**
 * What a client sends to start a run: the workflow, optionally a version of its definition
 * (default: the current one), and the run's input. The steps always come from the
 * definition; a client cannot send its own.
 */
export const runRequestSchema = z
  .object({
    workflowId: aggregateIdSchema,
    definitionVersion: z.number().int().min(1).max(1_000_000).optional(),
    input: freeFormObject().default({}),
    /** Where the run comes from, e.g. `{kind: "n8n", ref: "…"}`. `schedule` and `workflow` are the executor's. */
    source: runSourceSchema.optional(),
    /** Set by the executor for a `workflow.run` step's child; refused from anyone else (see `submit`). */
    parent: runParentSchema.optional(),
  })
  .strict();
export type RunRequest = z.output<typeof runRequestSchema>;

/** Parses a RequestWorkflowRun command's `data`, naming `data.steps` when a client sends steps. */
export function parseRunRequest(data: unknown, prefix = 'data'): RunRequest {
  if (data !== null && typeof data === 'object' && Object.hasOwn(data, 'steps')) {
    throw validationError([
      { field: `${prefix}.steps`, message: "must not be sent: a run's steps come from its workflow's definition" },
    ]);
  }
  const parsed = runRequestSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issues: FieldIssue[] = parsed.error.issues.map((i) => ({
    field: [prefix, ...i.path].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  throw validationError(issues);
}

export interface Definition {
  definitionVersion: number;
  steps: WorkflowStep[];
}

/**
 * The steps of a workflow's definition at `version` (absent: the current one), read from the
 * log, verified (a deprecation or a revision appended by another instance counts). An
 * unknown workflow or version is NOT_FOUND; a deprecated workflow cannot run.
 */
export async function definitionOf(
  deps: { commands: CommandHandler; store: EventStore },
  workflowId: string,
  version?: number,
): Promise<Definition> {
  const loaded = await deps.commands.repository.load('workflow', workflowId, { verify: true });
  const current = loaded.state as WorkflowState;
  if (!current.exists) {
    throw new LightdomError('NOT_FOUND', `No workflow ${workflowId}`, {
      issues: [{ field: 'data.workflowId', message: `no workflow ${workflowId}` }],
    });
  }
  if (current.status !== 'active') {
    throw new LightdomError('INVALID_TRANSITION', `Workflow ${workflowId} is ${current.status}: it cannot run`, {
      details: { status: current.status, allowedFrom: ['active'] },
    });
  }
  if (version === undefined || version === current.definitionVersion) {
    return { definitionVersion: current.definitionVersion, steps: current.steps };
  }
  const unknownVersion = () =>
    new LightdomError('NOT_FOUND', `Workflow ${workflowId} has no definition version ${version}`, {
      details: { currentVersion: current.definitionVersion },
      issues: [{ field: 'data.definitionVersion', message: `must be 1-${current.definitionVersion}` }],
    });
  if (version > current.definitionVersion) throw unknownVersion();
  // An earlier revision: fold the definition's history until it reaches that version.
  let at: LoadedAggregate = { ...loaded, state: workflowDecider.initialState(), version: 0, position: 0, hash: null };
  for (const commit of await deps.store.readAggregate('workflow', workflowId)) {
    at = foldCommits(workflowDecider, at, [commit]);
    const state = at.state as WorkflowState;
    if (state.definitionVersion === version) return { definitionVersion: version, steps: state.steps };
  }
  throw unknownVersion();
}

/** The full RequestWorkflowRun data: the definition's steps and who asked. */
export async function runRequestData(
  deps: { commands: CommandHandler; store: EventStore },
  request: RunRequest,
  requester: Identity,
) {
  const { definitionVersion, steps } = await definitionOf(deps, request.workflowId, request.definitionVersion);
  return {
    workflowId: request.workflowId,
    definitionVersion,
    steps,
    input: request.input,
    requestedBy: { actor: requester.actor, role: requester.role },
    ...(request.source ? { source: request.source } : {}),
    ...(request.parent ? { parent: request.parent } : {}),
  };
}

// --- signals (issue 14 part A) ---
/**
 * The SignalWorkflowRun envelope every edge sends for "signal `name` to run `runId`"
 * (REST `POST /api/runs/:id/signals/:name`, gRPC `WorkflowService.SignalRun`; WebSocket and
 * AMQP clients send the same envelope as a command). The core's submit authorises it
 * (a public command: operator or above) and the run decider checks the name.
 */
export function signalCommand(
  runId: string,
  name: string,
  payload: Record<string, unknown> | undefined,
  idempotencyKey?: string,
): Record<string, unknown> {
  return {
    type: 'SignalWorkflowRun',
    aggregateId: runId,
    data: { name, ...(payload !== undefined ? { payload } : {}) },
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}
// --- end signals ---
// --- run sources (issue 14 part B) ---
/** Source kinds only the executor records: a schedule's runs and a `workflow.run` step's children. */
const executorSourceKinds: ReadonlySet<string> = new Set(['schedule', 'workflow']);

/** Who asks on whose behalf, as `submit` worked it out. */
export interface RunRequester {
  /** The run a `workflow.run` step belongs to, when a service acts for it. */
  forRun?: string | undefined;
  /** The schedule a service fires, when it acts for one. */
  forSchedule?: string | undefined;
}

/**
 * A client may say where its run comes from (`n8n`, …) but may not pose as the executor:
 * `parent` must name the run the service acts for, and the `schedule` and `workflow`
 * sources need a service acting for a schedule or a run.
 */
export function checkRunOrigin(request: RunRequest, on: RunRequester): void {
  const parent: RunParent | undefined = request.parent;
  if (parent && parent.runId !== on.forRun) {
    throw validationError([
      { field: 'data.parent', message: 'is recorded by the executor for a workflow.run step only' },
    ]);
  }
  const kind = request.source?.kind;
  if (kind !== undefined && executorSourceKinds.has(kind)) {
    const ok = kind === 'schedule' ? on.forSchedule !== undefined : on.forRun !== undefined && parent !== undefined;
    if (!ok) {
      throw validationError([{ field: 'data.source.kind', message: `"${kind}" is recorded by the executor only` }]);
    }
  }
}
/** Deepest nesting of child runs: a workflow that runs itself stops here instead of forever. */
export const maxChildDepth = 8;

/**
 * The parent link with its depth (the parent's depth plus one), read from the parent run;
 * INVARIANT_VIOLATION past `maxChildDepth`, so the `workflow.run` step fails for good.
 */
export async function childParent(deps: { commands: CommandHandler }, parent: RunParent): Promise<RunParent> {
  const loaded = await deps.commands.repository.load('workflowRun', parent.runId);
  const state = loaded.state as { parent?: RunParent | null };
  const depth = (state.parent?.depth ?? (state.parent ? 1 : 0)) + 1;
  if (depth > maxChildDepth) {
    throw new LightdomError(
      'INVARIANT_VIOLATION',
      `child runs may nest ${maxChildDepth} deep; this one would be ${depth}`,
      {
        details: { field: 'data.parent', depth, maxDepth: maxChildDepth },
      },
    );
  }
  return { ...parent, depth };
}
// --- end run sources ---
