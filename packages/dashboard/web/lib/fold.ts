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
  status: 'pending' | 'running' | 'retryScheduled' | 'succeeded' | 'failed';
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  output?: unknown;
}

export interface RunView {
  runId: string;
  workflowId: string;
  definitionVersion: number;
  status: 'requested' | 'started' | 'succeeded' | 'failed' | 'cancelled';
  input: Record<string, unknown>;
  steps: StepView[];
  requestedAt: string;
  finishedAt: string | null;
  error: string | null;
  position: number;
  version: number;
}

export function foldRun(runId: string, events: FeedEvent[]): RunView | null {
  let run: RunView | null = null;
  const step = (id: unknown) => run?.steps.find((s) => s.stepId === id);
  for (const e of events) {
    const d = e.data;
    if (e.type === 'WorkflowRunRequested') {
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
        })),
        requestedAt: e.timestamp,
        finishedAt: null,
        error: null,
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
        if (s) Object.assign(s, { status: 'running', attempt: d.attempt, startedAt: d.startedAt, finishedAt: null });
        break;
      case 'WorkflowStepSucceeded':
        if (s) Object.assign(s, { status: 'succeeded', finishedAt: e.timestamp, output: d.output, error: null });
        break;
      case 'WorkflowStepRetryScheduled':
        if (s) Object.assign(s, { status: 'retryScheduled', error: d.error, finishedAt: e.timestamp });
        break;
      case 'WorkflowStepFailed':
        if (s) Object.assign(s, { status: 'failed', error: d.error, finishedAt: e.timestamp });
        break;
      case 'WorkflowRunSucceeded':
        Object.assign(run, { status: 'succeeded', finishedAt: e.timestamp });
        break;
      case 'WorkflowRunFailed':
        Object.assign(run, { status: 'failed', finishedAt: e.timestamp, error: d.error });
        break;
      case 'WorkflowRunCancelled':
        Object.assign(run, { status: 'cancelled', finishedAt: e.timestamp, error: d.reason });
        break;
    }
  }
  return run;
}

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
