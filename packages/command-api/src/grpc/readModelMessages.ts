import type { AiTaskView, RunView, WorkflowView } from '@lightdom/readmodel';

/** Read-model views as `lightdom.v1` messages: null strings become empty, JSON travels as text. */
const s = (v: string | null | undefined): string => v ?? '';
const jsonText = (v: unknown): string => (v === null || v === undefined ? '' : JSON.stringify(v));

export const toWorkflowMessage = (w: WorkflowView) => ({
  ...w,
  deprecatedReason: s(w.deprecatedReason),
  versions: (w.versions ?? []).map((v) => ({ ...v, steps: jsonText(v.steps) })),
});

export const toRunMessage = (r: RunView) => ({
  ...r,
  input: jsonText(r.input),
  result: jsonText(r.result),
  error: s(r.error),
  failedStepId: s(r.failedStepId),
  cancelReason: s(r.cancelReason),
  startedAt: s(r.startedAt),
  finishedAt: s(r.finishedAt),
  steps: (r.steps ?? []).map((st) => ({
    ...st,
    type: s(st.type),
    startedAt: s(st.startedAt),
    finishedAt: s(st.finishedAt),
    deadlineAt: s(st.deadlineAt),
    retryAt: s(st.retryAt),
    error: s(st.error),
    outputSummary: s(st.outputSummary),
  })),
});

export const toAiTaskMessage = (t: AiTaskView) => ({
  ...t,
  output: s(t.output),
  reasoning: s(t.reasoning),
  durationMs: t.durationMs ?? 0,
  workerId: s(t.workerId),
  error: s(t.error),
  workflowRunId: s(t.workflowRunId),
  stepId: s(t.stepId),
  startedAt: s(t.startedAt),
  finishedAt: s(t.finishedAt),
});
