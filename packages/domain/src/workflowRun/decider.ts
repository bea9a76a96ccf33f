import type { Identity } from '../access.js';
import { type DecideContext, type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError, validationError } from '../errors.js';
import { ExpressionError, type ExpressionScope, evaluateWhen, resolveInput } from '../workflow/expressions.js';
import { assertWorkflowDag, type RetryPolicy, type WorkflowStep } from '../workflow/steps.js';
import type { RunParent, RunSource, WorkflowRunCommand } from './commands.js';
import type { WorkflowRunEvent, WorkflowRunStatus, WorkflowStepStatus } from './events.js';

export interface WorkflowStepState {
  status: WorkflowStepStatus;
  /** Attempts started so far. */
  attempts: number;
  output: unknown;
  error: string | null;
  retryAt: string | null;
  deadlineAt: string | null;
  /** The input the current attempt started with, templates resolved; null before it starts. */
  input: Record<string, unknown> | null;
  /** Why the step was skipped, when it was. */
  skipReason: string | null;
}

export interface WorkflowRunState {
  exists: boolean;
  status: WorkflowRunStatus;
  workflowId: string;
  definitionVersion: number;
  input: Record<string, unknown>;
  /** The definition snapshot, in definition order. */
  steps: WorkflowStep[];
  stepStates: Record<string, WorkflowStepState>;
  startedAt: string | null;
  failure: { stepId: string; error: string } | null;
  cancelReason: string | null;
  /** Who requested the run (null on runs recorded before roles existed). */
  requestedBy: Identity | null;
  /** Signals received that no `wait.signal` step has taken yet, oldest first, by name. */
  signals: Record<string, Record<string, unknown>[]>;
  /** Where the run came from, when the request said so. */
  source: RunSource | null;
  /** The `workflow.run` step this run is the child of. */
  parent: RunParent | null;
  pauseReason: string | null;
}

export const initialWorkflowRunState = (): WorkflowRunState => ({
  exists: false,
  status: 'requested',
  workflowId: '',
  definitionVersion: 0,
  input: {},
  steps: [],
  stepStates: {},
  startedAt: null,
  failure: null,
  cancelReason: null,
  requestedBy: null,
  signals: {},
  source: null,
  parent: null,
  pauseReason: null,
});

/** Longest wait between two attempts, whatever the multiplier makes of it. */
export const maxRetryDelayMs = 86_400_000;

/** Wait before the attempt after `failedAttempt`: backoffMs × multiplier^(failedAttempt − 1), capped. */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number): number {
  const delay = policy.backoffMs * (policy.backoffMultiplier ?? 1) ** (failedAttempt - 1);
  return Math.round(Math.min(delay, maxRetryDelayMs));
}

/** Which run statuses each command may start from; succeeded, failed and cancelled are final. */
const allowedFrom = {
  StartWorkflowRun: ['requested'],
  StartWorkflowStep: ['started'],
  // A paused run still records what its running steps did.
  CompleteWorkflowStep: ['started', 'paused'],
  FailWorkflowStep: ['started', 'paused'],
  CancelWorkflowRun: ['requested', 'started', 'paused'],
  PauseWorkflowRun: ['started'],
  ResumeWorkflowRun: ['paused'],
  RetryWorkflowStep: ['failed'],
  // A signal may arrive before its step starts, and while the run is paused (a running step still completes).
  SignalWorkflowRun: ['requested', 'started', 'paused'],
} as const satisfies Record<string, readonly WorkflowRunStatus[]>;

function requireStatus(state: WorkflowRunState, type: keyof typeof allowedFrom): void {
  const allowed: readonly WorkflowRunStatus[] = allowedFrom[type];
  if (!allowed.includes(state.status)) {
    throw new LightdomError(
      'INVALID_TRANSITION',
      `${type} is not allowed while the run is ${state.status} (allowed from: ${allowed.join(', ')})`,
      { details: { status: state.status, command: type, allowedFrom: allowed } },
    );
  }
}

/** The step and its state, after checking that its status allows the command. */
function stepFor(
  state: WorkflowRunState,
  type: WorkflowRunCommand['type'],
  stepId: string,
  allowed: readonly WorkflowStepStatus[],
): { step: WorkflowStep; current: WorkflowStepState } {
  const step = state.steps.find((s) => s.id === stepId);
  const current = state.stepStates[stepId];
  if (!step || !current) {
    throw validationError([
      {
        field: 'data.stepId',
        message: `is not a step of this run (steps: ${state.steps.map((s) => s.id).join(', ')})`,
      },
    ]);
  }
  if (!allowed.includes(current.status)) {
    throw new LightdomError('INVALID_TRANSITION', `${type} is not allowed while step ${stepId} is ${current.status}`, {
      details: { status: current.status, stepId, command: type, allowedFrom: allowed },
    });
  }
  return { step, current };
}

function startStep(state: WorkflowRunState, stepId: string, attempt: number, now: Date): WorkflowRunEvent[] {
  const { step, current } = stepFor(state, 'StartWorkflowStep', stepId, ['pending', 'retryScheduled']);
  const waitingFor = step.dependsOn.filter((dep) => !isDone(state.stepStates[dep]?.status));
  if (waitingFor.length > 0) {
    throw new LightdomError('INVARIANT_VIOLATION', `Step ${stepId} waits for ${waitingFor.join(', ')} to succeed`, {
      details: { field: 'data.stepId', stepId, waitingFor },
    });
  }
  if (attempt !== current.attempts + 1) {
    throw new LightdomError('INVARIANT_VIOLATION', `The next attempt of step ${stepId} is ${current.attempts + 1}`, {
      details: { field: 'data.attempt', expected: current.attempts + 1 },
    });
  }
  const prepared = prepareStep(state, step);
  if (prepared.kind === 'skip') {
    const skipped: WorkflowRunEvent = { type: 'WorkflowStepSkipped', data: { stepId, reason: prepared.reason } };
    return [skipped, ...runSucceededAfter(state, stepId, 'skipped', null)];
  }
  if (prepared.kind === 'fail') {
    return [
      { type: 'WorkflowStepFailed', data: { stepId, attempt, error: prepared.error, retryable: false } },
      { type: 'WorkflowRunFailed', data: { stepId, error: prepared.error } },
    ];
  }
  const deadlineAt = step.timeoutMs === undefined ? null : new Date(now.getTime() + step.timeoutMs).toISOString();
  const started: WorkflowRunEvent = {
    type: 'WorkflowStepStarted',
    data: { stepId, attempt, startedAt: now.toISOString(), deadlineAt, input: prepared.input },
  };
  // A signal that arrived before its step started is taken at once.
  const buffered = step.type === 'wait.signal' ? state.signals[signalNameOf(prepared.input)]?.[0] : undefined;
  if (buffered === undefined) return [started];
  return [started, ...succeedStep(state, stepId, attempt, buffered)];
}

function completeStep(state: WorkflowRunState, stepId: string, output: unknown): WorkflowRunEvent[] {
  const { step, current } = stepFor(state, 'CompleteWorkflowStep', stepId, ['running']);
  if (step.type === 'wait.signal') {
    throw new LightdomError('INVALID_TRANSITION', `Step ${stepId} is a wait.signal step: only a signal completes it`, {
      details: { stepId, command: 'CompleteWorkflowStep' },
    });
  }
  return succeedStep(state, stepId, current.attempts, output);
}

function succeedStep(state: WorkflowRunState, stepId: string, attempt: number, output: unknown): WorkflowRunEvent[] {
  return [
    { type: 'WorkflowStepSucceeded', data: { stepId, attempt, output } },
    ...runSucceededAfter(state, stepId, 'succeeded', output),
  ];
}

/**
 * WorkflowRunSucceeded when `stepId` ending as `status` leaves every step succeeded or
 * skipped; its outputs are the final steps' (a skipped one's is null).
 */
function runSucceededAfter(
  state: WorkflowRunState,
  stepId: string,
  status: 'succeeded' | 'skipped',
  output: unknown,
): WorkflowRunEvent[] {
  const statusOf = (id: string) => (id === stepId ? status : state.stepStates[id]?.status);
  if (!state.steps.every((s) => isDone(statusOf(s.id)))) return [];
  const outputOf = (id: string) => (id === stepId ? output : state.stepStates[id]?.output);
  const dependedOn = new Set(state.steps.flatMap((s) => s.dependsOn));
  const outputs = Object.fromEntries(
    state.steps.filter((s) => !dependedOn.has(s.id)).map((s) => [s.id, outputOf(s.id) ?? null]),
  );
  return [{ type: 'WorkflowRunSucceeded', data: { outputs } }];
}

function failStep(
  state: WorkflowRunState,
  data: { stepId: string; error: string; retryable: boolean },
  now: Date,
): WorkflowRunEvent[] {
  const { stepId, error, retryable } = data;
  const { step, current } = stepFor(state, 'FailWorkflowStep', stepId, ['running']);
  const maxAttempts = step.retry?.maxAttempts ?? 1;
  if (retryable && step.retry && current.attempts < maxAttempts) {
    const retryAt = new Date(now.getTime() + retryDelayMs(step.retry, current.attempts)).toISOString();
    return [{ type: 'WorkflowStepRetryScheduled', data: { stepId, attempt: current.attempts + 1, retryAt, error } }];
  }
  return [
    { type: 'WorkflowStepFailed', data: { stepId, attempt: current.attempts, error, retryable } },
    { type: 'WorkflowRunFailed', data: { stepId, error } },
  ];
}

// --- data flow, branches, signals (issue 14 part A) ---
/** A dependency that no longer holds its dependants back. */
const isDone = (status: string | undefined): boolean => status === 'succeeded' || status === 'skipped';

/** What a step's expressions see: the run's input and its ancestors' outcomes (only those). */
function scopeFor(state: WorkflowRunState, step: WorkflowStep): ExpressionScope {
  const byId = new Map(state.steps.map((s) => [s.id, s]));
  const steps: ExpressionScope['steps'] = {};
  const visit = (id: string) => {
    if (Object.hasOwn(steps, id)) return;
    const st = state.stepStates[id];
    steps[id] = { status: st?.status ?? 'pending', output: st?.output ?? null };
    for (const dep of byId.get(id)?.dependsOn ?? []) visit(dep);
  };
  for (const dep of step.dependsOn) visit(dep);
  return { input: state.input, steps };
}

type Prepared =
  | { kind: 'run'; input: Record<string, unknown> }
  | { kind: 'skip'; reason: string }
  | { kind: 'fail'; error: string };

/**
 * Decides, when a step is due, whether it runs (with its input resolved), is skipped, or
 * fails for good because an expression cannot be evaluated. Rules: a step whose every
 * dependency was skipped is skipped; otherwise its `when` decides; a skipped dependency
 * counts as done, its output is null and its status `skipped`.
 */
function prepareStep(state: WorkflowRunState, step: WorkflowStep): Prepared {
  if (step.dependsOn.length > 0 && step.dependsOn.every((d) => state.stepStates[d]?.status === 'skipped')) {
    return { kind: 'skip', reason: `every step it depends on was skipped (${step.dependsOn.join(', ')})` };
  }
  const scope = scopeFor(state, step);
  try {
    if (step.when !== undefined && !evaluateWhen(step.when, scope)) {
      return { kind: 'skip', reason: `when ${JSON.stringify(step.when)} was false` };
    }
    return { kind: 'run', input: resolveInput(step.input, scope) };
  } catch (err) {
    if (err instanceof ExpressionError)
      return { kind: 'fail', error: `step ${step.id}: ${err.message}`.slice(0, 5000) };
    throw err;
  }
}

const signalNameOf = (input: Record<string, unknown> | null | undefined): string => String(input?.name ?? '');

/**
 * A signal for the run. It completes the running `wait.signal` step waiting for `name`, or
 * waits for that step to start. Refused when no step of the run waits for `name`, or when
 * every such step is over or already has its signal.
 */
function signalRun(state: WorkflowRunState, name: string, payload: Record<string, unknown>): WorkflowRunEvent[] {
  const waiting = state.steps.filter((s) => s.type === 'wait.signal' && signalNameOf(s.input) === name);
  if (waiting.length === 0) {
    const names = state.steps.filter((s) => s.type === 'wait.signal').map((s) => signalNameOf(s.input));
    throw validationError([
      {
        field: 'data.name',
        message: `no wait.signal step of this run waits for ${name} (signals it waits for: ${names.join(', ') || 'none'})`,
      },
    ]);
  }
  const received: WorkflowRunEvent = { type: 'WorkflowSignalReceived', data: { name, payload } };
  const running = waiting.find((s) => state.stepStates[s.id]?.status === 'running');
  if (running && (state.signals[name]?.length ?? 0) === 0) {
    return [received, ...succeedStep(state, running.id, state.stepStates[running.id]!.attempts, payload)];
  }
  const open = waiting.filter((s) => ['pending', 'running', 'retryScheduled'].includes(state.stepStates[s.id]!.status));
  if (open.length <= (state.signals[name]?.length ?? 0)) {
    throw new LightdomError('INVALID_TRANSITION', `No step of this run waits for signal ${name} any more`, {
      details: { name, steps: waiting.map((s) => ({ stepId: s.id, status: state.stepStates[s.id]!.status })) },
    });
  }
  return [received];
}

/** Folds the events of this block; the rest of evolve is unchanged by them. */
function evolveDataFlow(
  state: WorkflowRunState,
  event: Extract<WorkflowRunEvent, { type: 'WorkflowStepSkipped' | 'WorkflowSignalReceived' }>,
): WorkflowRunState {
  if (event.type === 'WorkflowStepSkipped') {
    return withStep(state, event.data.stepId, { status: 'skipped', skipReason: event.data.reason, deadlineAt: null });
  }
  const queue = [...(state.signals[event.data.name] ?? []), event.data.payload];
  return { ...state, signals: { ...state.signals, [event.data.name]: queue } };
}

/** A wait.signal step that succeeded took the oldest signal of its name. */
function takeSignal(state: WorkflowRunState, stepId: string): WorkflowRunState {
  const step = state.steps.find((s) => s.id === stepId);
  if (step?.type !== 'wait.signal') return state;
  const name = signalNameOf(state.stepStates[stepId]?.input ?? step.input);
  return { ...state, signals: { ...state.signals, [name]: (state.signals[name] ?? []).slice(1) } };
}
// --- end data flow ---
// --- run control (issue 14 part B) ---
/** Highest attempt StartWorkflowStep accepts. */
const maxAttempt = 100;

/**
 * A failed run starts its failed step again by hand. Steps that were still running when
 * the run failed had their outcomes refused, so they start again too (their activities
 * run at least once, as after a crash).
 */
function retryStepByHand(state: WorkflowRunState, stepId: string): WorkflowRunEvent[] {
  const { current } = stepFor(state, 'RetryWorkflowStep', stepId, ['failed']);
  if (current.attempts >= maxAttempt) {
    throw new LightdomError(
      'INVARIANT_VIOLATION',
      `Step ${stepId} has had ${maxAttempt} attempts, the most a step may have`,
      {
        details: { field: 'data.stepId', attempts: current.attempts },
      },
    );
  }
  const restartedSteps = state.steps.filter((s) => state.stepStates[s.id]?.status === 'running').map((s) => s.id);
  return [{ type: 'WorkflowStepRetryRequested', data: { stepId, previousError: current.error, restartedSteps } }];
}

function decideRunControl(
  command: Extract<WorkflowRunCommand, { type: 'PauseWorkflowRun' | 'ResumeWorkflowRun' | 'RetryWorkflowStep' }>,
  state: WorkflowRunState,
  ctx: DecideContext,
): WorkflowRunEvent[] {
  requireStatus(state, command.type);
  switch (command.type) {
    case 'PauseWorkflowRun':
      return [
        { type: 'WorkflowRunPaused', data: { reason: command.data.reason ?? null, pausedAt: ctx.now.toISOString() } },
      ];
    case 'ResumeWorkflowRun':
      return [{ type: 'WorkflowRunResumed', data: { resumedAt: ctx.now.toISOString() } }];
    case 'RetryWorkflowStep':
      return retryStepByHand(state, command.data.stepId);
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}
/** An outcome that names its attempt is refused once the step has moved on to another. */
function requireAttempt(state: WorkflowRunState, type: string, stepId: string, attempt: number | undefined): void {
  const current = state.stepStates[stepId];
  if (attempt === undefined || !current || current.attempts === attempt) return;
  throw new LightdomError(
    'INVALID_TRANSITION',
    `${type} is for attempt ${attempt}; step ${stepId} is at attempt ${current.attempts}`,
    {
      details: { stepId, attempt, currentAttempt: current.attempts },
    },
  );
}
// --- end run control ---

function decide(command: WorkflowRunCommand, state: WorkflowRunState, ctx: DecideContext): WorkflowRunEvent[] {
  if (command.type === 'RequestWorkflowRun') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The workflow run already exists');
    const { workflowId, definitionVersion, steps, input, requestedBy, source, parent } = command.data;
    assertWorkflowDag(steps);
    return [
      {
        type: 'WorkflowRunRequested',
        data: {
          workflowId,
          definitionVersion,
          steps,
          input,
          ...(requestedBy ? { requestedBy } : {}),
          ...(source ? { source } : {}),
          ...(parent ? { parent } : {}),
        },
      },
    ];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The workflow run does not exist');

  switch (command.type) {
    case 'StartWorkflowRun':
      requireStatus(state, command.type);
      return [{ type: 'WorkflowRunStarted', data: { startedAt: ctx.now.toISOString() } }];
    case 'StartWorkflowStep':
      requireStatus(state, command.type);
      return startStep(state, command.data.stepId, command.data.attempt, ctx.now);
    case 'CompleteWorkflowStep':
      requireStatus(state, command.type);
      requireAttempt(state, command.type, command.data.stepId, command.data.attempt);
      return completeStep(state, command.data.stepId, command.data.output ?? null);
    case 'FailWorkflowStep':
      requireStatus(state, command.type);
      requireAttempt(state, command.type, command.data.stepId, command.data.attempt);
      return failStep(state, command.data, ctx.now);
    case 'CancelWorkflowRun':
      requireStatus(state, command.type);
      return [{ type: 'WorkflowRunCancelled', data: { reason: command.data.reason } }];
    case 'SignalWorkflowRun':
      requireStatus(state, command.type);
      return signalRun(state, command.data.name, command.data.payload);
    case 'PauseWorkflowRun':
    case 'ResumeWorkflowRun':
    case 'RetryWorkflowStep':
      return decideRunControl(command, state, ctx);
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

const pendingStep = (): WorkflowStepState => ({
  status: 'pending',
  attempts: 0,
  output: null,
  error: null,
  retryAt: null,
  deadlineAt: null,
  input: null,
  skipReason: null,
});

function withStep(state: WorkflowRunState, stepId: string, change: Partial<WorkflowStepState>): WorkflowRunState {
  const current = state.stepStates[stepId] ?? pendingStep();
  return { ...state, stepStates: { ...state.stepStates, [stepId]: { ...current, ...change } } };
}

function evolve(state: WorkflowRunState, event: WorkflowRunEvent): WorkflowRunState {
  switch (event.type) {
    case 'WorkflowRunRequested': {
      const { workflowId, definitionVersion, steps, input } = event.data;
      const stepStates = Object.fromEntries(steps.map((s) => [s.id, pendingStep()]));
      const requestedBy = event.data.requestedBy ?? null;
      const source = event.data.source ?? null;
      const parent = event.data.parent ?? null;
      return {
        ...state,
        exists: true,
        status: 'requested',
        workflowId,
        definitionVersion,
        steps,
        input,
        stepStates,
        requestedBy,
        source,
        parent,
      };
    }
    case 'WorkflowRunStarted':
      return { ...state, status: 'started', startedAt: event.data.startedAt };
    case 'WorkflowStepStarted':
      return withStep(state, event.data.stepId, {
        status: 'running',
        attempts: event.data.attempt,
        retryAt: null,
        deadlineAt: event.data.deadlineAt,
        input: event.data.input ?? state.steps.find((s) => s.id === event.data.stepId)?.input ?? null,
      });
    case 'WorkflowStepSucceeded':
      return withStep(takeSignal(state, event.data.stepId), event.data.stepId, {
        status: 'succeeded',
        output: event.data.output,
        deadlineAt: null,
      });
    case 'WorkflowStepRetryScheduled':
      return withStep(state, event.data.stepId, {
        status: 'retryScheduled',
        error: event.data.error,
        retryAt: event.data.retryAt,
        deadlineAt: null,
      });
    case 'WorkflowStepFailed':
      return withStep(state, event.data.stepId, { status: 'failed', error: event.data.error, deadlineAt: null });
    case 'WorkflowRunSucceeded':
      return { ...state, status: 'succeeded' };
    case 'WorkflowRunFailed':
      return { ...state, status: 'failed', failure: { stepId: event.data.stepId, error: event.data.error } };
    case 'WorkflowRunCancelled':
      return { ...state, status: 'cancelled', cancelReason: event.data.reason };
    case 'WorkflowStepSkipped':
    case 'WorkflowSignalReceived':
      return evolveDataFlow(state, event);
    // --- run control (issue 14 part B) ---
    case 'WorkflowRunPaused':
      return { ...state, status: 'paused', pauseReason: event.data.reason };
    case 'WorkflowRunResumed':
      return { ...state, status: 'started', pauseReason: null };
    case 'WorkflowStepRetryRequested': {
      let next: WorkflowRunState = { ...state, status: 'started', failure: null };
      for (const id of [event.data.stepId, ...event.data.restartedSteps]) {
        next = withStep(next, id, { status: 'pending', error: null, retryAt: null, deadlineAt: null });
      }
      return next;
    }
    // --- end run control ---
    default: {
      return ignoreUnknownEvent(state, event);
    }
  }
}

export const workflowRunDecider: Decider<WorkflowRunCommand, WorkflowRunEvent, WorkflowRunState> = {
  aggregateType: 'workflowRun',
  initialState: initialWorkflowRunState,
  decide,
  evolve,
};
