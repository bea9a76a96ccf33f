import type { FeedEvent } from './feed';

/**
 * Live views of one aggregate, folded in the browser from its events as the feed delivers
 * them (history first, then live). The list pages read the read models; a page about one
 * run or task folds its events, so it moves with every event without waiting for a projection.
 */
export interface StepDefinition {
  id: string;
  type: string;
  dependsOn: string[];
  input?: Record<string, unknown>;
}

export interface StepView {
  stepId: string;
  type: string;
  dependsOn: string[];
  /**
   * `waiting`: a `wait.signal` or `wait.event` step that started and has no outcome yet (the
   * read model says `running`); `skipped`: its `when` was false or every step it depends on
   * was skipped.
   */
  status: 'pending' | 'running' | 'waiting' | 'retryScheduled' | 'succeeded' | 'failed' | 'skipped';
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  /** Why it was skipped, or what it waits for. */
  note: string | null;
  /** The signal a `wait.signal` step waits for (its `input.name`). */
  signalName: string | null;
  /** The input of its latest attempt, templates resolved (the definition's until it started). */
  input?: Record<string, unknown>;
  /** A `workflow.run` step's child run, once its output names it. */
  childRunId: string | null;
  output?: unknown;
}

/** Where a run came from; absent on the request: an API client (or the dashboard) that said nothing. */
export interface RunSource {
  kind: string;
  ref?: string;
}

export interface RunView {
  runId: string;
  workflowId: string;
  definitionVersion: number;
  status: 'requested' | 'started' | 'paused' | 'succeeded' | 'failed' | 'cancelled';
  input: Record<string, unknown>;
  steps: StepView[];
  requestedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** The failed step of a failed run: the one "retry" starts again. */
  failedStepId: string | null;
  pauseReason: string | null;
  source: RunSource | null;
  /** The run whose `workflow.run` step started this one. */
  parent: { runId: string; stepId: string } | null;
  position: number;
  version: number;
}

const waitingTypes = new Set(['wait.signal', 'wait.event']);

const waitingNote = (s: StepView): string | null => {
  if (s.type === 'wait.signal') return `waiting for signal ${s.signalName ?? '?'}`;
  if (s.type === 'wait.event') {
    const i = s.input ?? {};
    return `waiting for ${String(i.eventType ?? 'an event')} of ${String(i.aggregateType ?? '?')} ${String(i.aggregateId ?? '')}`.trim();
  }
  return null;
};

export function foldRun(runId: string, events: FeedEvent[]): RunView | null {
  let run: RunView | null = null;
  const step = (id: unknown) => run?.steps.find((s) => s.stepId === id);
  const toPending = (s: StepView) =>
    Object.assign(s, { status: 'pending', finishedAt: null, error: null, note: null, output: undefined });
  for (const e of events) {
    const d = e.data;
    if (e.type === 'WorkflowRunRequested') {
      const parent = d.parent as { runId?: unknown; stepId?: unknown } | undefined;
      const source = d.source as RunSource | undefined;
      run = {
        runId,
        workflowId: String(d.workflowId),
        definitionVersion: Number(d.definitionVersion),
        status: 'requested',
        input: (d.input as Record<string, unknown>) ?? {},
        steps: ((d.steps as StepDefinition[]) ?? []).map((s) => ({
          stepId: s.id,
          type: s.type,
          dependsOn: s.dependsOn ?? [],
          status: 'pending',
          attempt: 0,
          startedAt: null,
          finishedAt: null,
          error: null,
          note: null,
          signalName: s.type === 'wait.signal' && typeof s.input?.name === 'string' ? s.input.name : null,
          ...(s.input ? { input: s.input } : {}),
          childRunId: null,
        })),
        requestedAt: e.timestamp,
        finishedAt: null,
        error: null,
        failedStepId: null,
        pauseReason: null,
        source: source && typeof source.kind === 'string' ? source : null,
        parent:
          parent && typeof parent.runId === 'string' ? { runId: parent.runId, stepId: String(parent.stepId) } : null,
        position: e.position,
        version: e.version,
      };
      continue;
    }
    if (!run) continue;
    run.position = e.position;
    run.version = e.version;
    const s = step(d.stepId);
    switch (e.type) {
      case 'WorkflowRunStarted':
        run.status = 'started';
        break;
      case 'WorkflowStepStarted':
        if (s) {
          Object.assign(s, {
            status: waitingTypes.has(s.type) ? 'waiting' : 'running',
            attempt: d.attempt,
            startedAt: d.startedAt,
            finishedAt: null,
            ...(d.input ? { input: d.input } : {}),
          });
          s.note = s.status === 'waiting' ? waitingNote(s) : null;
        }
        break;
      case 'WorkflowStepSucceeded': {
        if (!s) break;
        const out = d.output as { runId?: unknown } | null;
        Object.assign(s, { status: 'succeeded', finishedAt: e.timestamp, output: d.output, error: null, note: null });
        if (s.type === 'workflow.run' && typeof out?.runId === 'string') s.childRunId = out.runId;
        break;
      }
      case 'WorkflowStepRetryScheduled':
        if (s) Object.assign(s, { status: 'retryScheduled', error: d.error, finishedAt: e.timestamp, note: null });
        break;
      case 'WorkflowStepFailed':
        if (s) Object.assign(s, { status: 'failed', error: d.error, finishedAt: e.timestamp, note: null });
        break;
      case 'WorkflowStepSkipped':
        if (s) Object.assign(s, { status: 'skipped', note: d.reason, finishedAt: e.timestamp });
        break;
      case 'WorkflowSignalReceived':
        // The step that takes it succeeds in the same commit; nothing to show on its own.
        break;
      case 'WorkflowRunPaused':
        Object.assign(run, { status: 'paused', pauseReason: d.reason ?? null });
        break;
      case 'WorkflowRunResumed':
        Object.assign(run, { status: 'started', pauseReason: null });
        break;
      case 'WorkflowStepRetryRequested': {
        if (s) toPending(s);
        for (const id of (d.restartedSteps as string[] | undefined) ?? []) {
          const r = step(id);
          if (r) toPending(r);
        }
        Object.assign(run, { status: 'started', finishedAt: null, error: null, failedStepId: null });
        break;
      }
      case 'WorkflowRunSucceeded':
        Object.assign(run, { status: 'succeeded', finishedAt: e.timestamp });
        break;
      case 'WorkflowRunFailed':
        Object.assign(run, { status: 'failed', finishedAt: e.timestamp, error: d.error, failedStepId: d.stepId });
        break;
      case 'WorkflowRunCancelled':
        Object.assign(run, { status: 'cancelled', finishedAt: e.timestamp, error: d.reason });
        break;
    }
  }
  return run;
}

/** What the run's state allows (docs/executor.md, Run control); the core refuses the rest with 409. */
export const runActions = (run: RunView) => ({
  pause: run.status === 'started',
  resume: run.status === 'paused',
  cancel: run.status === 'requested' || run.status === 'started' || run.status === 'paused',
  retryStep:
    run.status === 'failed' && run.failedStepId && step(run, run.failedStepId)?.status === 'failed'
      ? run.failedStepId
      : null,
});

const step = (run: RunView, id: string) => run.steps.find((s) => s.stepId === id);

/** Steps that take a signal now: started `wait.signal` steps with no outcome, in a run that has not ended. */
export const signalSteps = (run: RunView): StepView[] =>
  ['started', 'paused'].includes(run.status)
    ? run.steps.filter((s) => s.type === 'wait.signal' && s.status === 'waiting' && s.signalName)
    : [];

export interface AiTaskView {
  taskId: string;
  status: 'requested' | 'started' | 'completed' | 'failed' | 'cancelled';
  model: string;
  prompt: string;
  output: string;
  reasoning: string | null;
  tokens: { prompt: number; completion: number };
  attempts: number;
  requestedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
  workflowRunId: string | null;
}

/** DeepSeek-R1 writes its thinking in a `<think>` block first; while streaming it is split off the same way. */
export function splitReasoning(text: string): { reasoning: string | null; answer: string } {
  const m = /^\s*<think>([\s\S]*?)(<\/think>|$)/.exec(text);
  if (!m) return { reasoning: null, answer: text };
  return { reasoning: m[1]!.trim(), answer: text.slice(m[0].length).trimStart() };
}

export function foldAiTask(taskId: string, events: FeedEvent[]): AiTaskView | null {
  let task: AiTaskView | null = null;
  for (const e of events) {
    const d = e.data;
    if (e.type === 'AiTaskRequested') {
      const messages = (d.messages as { content: string }[] | null) ?? [];
      task = {
        taskId,
        status: 'requested',
        model: String(d.model),
        prompt: (d.prompt as string | null) ?? messages.map((m) => m.content).join('\n'),
        output: '',
        reasoning: null,
        tokens: { prompt: 0, completion: 0 },
        attempts: 0,
        requestedAt: e.timestamp,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        error: null,
        workflowRunId: (d.workflowRunId as string | null) ?? null,
      };
      continue;
    }
    if (!task) continue;
    switch (e.type) {
      case 'AiTaskStarted':
        Object.assign(task, { status: 'started', attempts: d.attempt, startedAt: d.startedAt, output: '' });
        break;
      case 'AiTaskProgressed': {
        const { reasoning, answer } = splitReasoning(String(d.partialText));
        Object.assign(task, { output: answer, reasoning, tokens: { ...task.tokens, completion: d.tokens } });
        break;
      }
      case 'AiTaskCompleted':
        Object.assign(task, {
          status: 'completed',
          output: d.text,
          reasoning: d.reasoning ?? null,
          tokens: { prompt: d.promptTokens, completion: d.completionTokens },
          durationMs: d.durationMs,
          finishedAt: e.timestamp,
        });
        break;
      case 'AiTaskFailed':
        Object.assign(task, { status: d.willRetry ? 'requested' : 'failed', error: d.error, finishedAt: e.timestamp });
        break;
      case 'AiTaskCancelled':
        Object.assign(task, { status: 'cancelled', finishedAt: e.timestamp, error: d.reason });
        break;
    }
  }
  return task;
}

export interface WorkflowView {
  workflowId: string;
  name: string;
  description: string;
  status: 'active' | 'deprecated';
  versions: { definitionVersion: number; steps: StepDefinition[]; at: string }[];
}

export function foldWorkflow(workflowId: string, events: FeedEvent[]): WorkflowView | null {
  let wf: WorkflowView | null = null;
  for (const e of events) {
    const d = e.data;
    if (e.type === 'WorkflowDefined') {
      wf = {
        workflowId,
        name: String(d.name),
        description: String(d.description ?? ''),
        status: 'active',
        versions: [{ definitionVersion: 1, steps: d.steps as StepDefinition[], at: e.timestamp }],
      };
    } else if (wf && e.type === 'WorkflowRevised') {
      wf.versions.push({
        definitionVersion: Number(d.definitionVersion),
        steps: d.steps as StepDefinition[],
        at: e.timestamp,
      });
    } else if (wf && e.type === 'WorkflowDeprecated') {
      wf.status = 'deprecated';
    }
  }
  return wf;
}
