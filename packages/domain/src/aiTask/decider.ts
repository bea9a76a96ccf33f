import { type DecideContext, type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError, validationError } from '../errors.js';
import type { AiMessage, AiTaskCommand } from './commands.js';
import type { AiTaskEvent, AiTaskResult, AiTaskStatus } from './events.js';

export interface AiTaskState {
  exists: boolean;
  status: AiTaskStatus;
  model: string;
  prompt: string | null;
  messages: AiMessage[] | null;
  options: Record<string, unknown>;
  maxAttempts: number;
  workflowRunId: string | null;
  stepId: string | null;
  /** Attempts started so far. */
  attempts: number;
  workerId: string | null;
  /** Completion tokens reported by the current attempt's last progress. */
  tokens: number;
  result: AiTaskResult | null;
  error: string | null;
  cancelReason: string | null;
}

export const initialAiTaskState = (): AiTaskState => ({
  exists: false,
  status: 'requested',
  model: '',
  prompt: null,
  messages: null,
  options: {},
  maxAttempts: 1,
  workflowRunId: null,
  stepId: null,
  attempts: 0,
  workerId: null,
  tokens: 0,
  result: null,
  error: null,
  cancelReason: null,
});

/** Which statuses each command may start from; completed, failed and cancelled are final. */
const allowedFrom = {
  StartAiTask: ['requested'],
  RecordAiTaskProgress: ['started'],
  CompleteAiTask: ['started'],
  FailAiTask: ['started'],
  CancelAiTask: ['requested', 'started'],
} as const satisfies Record<string, readonly AiTaskStatus[]>;

function requireStatus(state: AiTaskState, type: keyof typeof allowedFrom): void {
  const allowed: readonly AiTaskStatus[] = allowedFrom[type];
  if (!allowed.includes(state.status)) {
    throw new LightdomError(
      'INVALID_TRANSITION',
      `${type} is not allowed while the AI task is ${state.status} (allowed from: ${allowed.join(', ')})`,
      { details: { status: state.status, command: type, allowedFrom: allowed } },
    );
  }
}

function decide(command: AiTaskCommand, state: AiTaskState, ctx: DecideContext): AiTaskEvent[] {
  if (command.type === 'RequestAiTask') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The AI task already exists');
    const { model, prompt, messages, options, maxAttempts, workflowRunId, stepId } = command.data;
    if ((prompt === undefined) === (messages === undefined)) {
      throw validationError([{ field: 'data.prompt', message: 'exactly one of prompt and messages is required' }]);
    }
    return [
      {
        type: 'AiTaskRequested',
        data: {
          model,
          prompt: prompt ?? null,
          messages: messages ?? null,
          options,
          maxAttempts,
          workflowRunId: workflowRunId ?? null,
          stepId: stepId ?? null,
        },
      },
    ];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The AI task does not exist');

  switch (command.type) {
    case 'StartAiTask':
      requireStatus(state, command.type);
      return [
        {
          type: 'AiTaskStarted',
          data: { workerId: command.data.workerId, attempt: state.attempts + 1, startedAt: ctx.now.toISOString() },
        },
      ];
    case 'RecordAiTaskProgress':
      requireStatus(state, command.type);
      if (command.data.tokens < state.tokens) {
        throw new LightdomError('INVARIANT_VIOLATION', `Tokens cannot go back from ${state.tokens} within an attempt`, {
          details: { field: 'data.tokens', tokens: state.tokens },
        });
      }
      return [{ type: 'AiTaskProgressed', data: { attempt: state.attempts, ...command.data } }];
    case 'CompleteAiTask': {
      requireStatus(state, command.type);
      const { text, reasoning, promptTokens, completionTokens, durationMs } = command.data;
      return [
        {
          type: 'AiTaskCompleted',
          data: {
            text,
            reasoning: reasoning ?? null,
            promptTokens,
            completionTokens,
            durationMs,
            attempt: state.attempts,
          },
        },
      ];
    }
    case 'FailAiTask': {
      requireStatus(state, command.type);
      const { error, retryable } = command.data;
      const willRetry = retryable && state.attempts < state.maxAttempts;
      return [{ type: 'AiTaskFailed', data: { attempt: state.attempts, error, retryable, willRetry } }];
    }
    case 'CancelAiTask':
      requireStatus(state, command.type);
      return [{ type: 'AiTaskCancelled', data: { reason: command.data.reason ?? null } }];
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function evolve(state: AiTaskState, event: AiTaskEvent): AiTaskState {
  switch (event.type) {
    case 'AiTaskRequested':
      return { ...state, ...event.data, exists: true, status: 'requested' };
    case 'AiTaskStarted':
      return { ...state, status: 'started', attempts: event.data.attempt, workerId: event.data.workerId, tokens: 0 };
    case 'AiTaskProgressed':
      return { ...state, tokens: event.data.tokens };
    case 'AiTaskCompleted': {
      const { attempt: _attempt, ...result } = event.data;
      return { ...state, status: 'completed', result };
    }
    case 'AiTaskFailed':
      return {
        ...state,
        status: event.data.willRetry ? 'requested' : 'failed',
        workerId: event.data.willRetry ? null : state.workerId,
        error: event.data.error,
      };
    case 'AiTaskCancelled':
      return { ...state, status: 'cancelled', cancelReason: event.data.reason };
    default: {
      return ignoreUnknownEvent(state, event);
    }
  }
}

export const aiTaskDecider: Decider<AiTaskCommand, AiTaskEvent, AiTaskState> = {
  aggregateType: 'aiTask',
  initialState: initialAiTaskState,
  decide,
  evolve,
};
