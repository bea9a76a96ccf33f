import type { AiMessage } from './commands.js';

export type AiTaskStatus = 'requested' | 'started' | 'completed' | 'failed' | 'cancelled';

export interface AiTaskResult {
  text: string;
  reasoning: string | null;
  promptTokens: number;
  completionTokens: number;
  durationMs: number;
}

export interface AiTaskEventData {
  AiTaskRequested: {
    model: string;
    prompt: string | null;
    messages: AiMessage[] | null;
    options: Record<string, unknown>;
    maxAttempts: number;
    workflowRunId: string | null;
    stepId: string | null;
  };
  AiTaskStarted: { workerId: string; attempt: number; startedAt: string };
  AiTaskProgressed: { attempt: number; partialText: string; tokens: number };
  AiTaskCompleted: AiTaskResult & { attempt: number };
  /** `willRetry`: the task went back to requested for another attempt; otherwise it failed for good. */
  AiTaskFailed: { attempt: number; error: string; retryable: boolean; willRetry: boolean };
  AiTaskCancelled: { reason: string | null };
}

export type AiTaskEventType = keyof AiTaskEventData;

export type AiTaskEvent = {
  [K in AiTaskEventType]: { type: K; data: AiTaskEventData[K] };
}[AiTaskEventType];

/** Current schemaVersion of every AI-task event. */
export const aiTaskEventVersions: Record<AiTaskEventType, number> = {
  AiTaskRequested: 1,
  AiTaskStarted: 1,
  AiTaskProgressed: 1,
  AiTaskCompleted: 1,
  AiTaskFailed: 1,
  AiTaskCancelled: 1,
};
