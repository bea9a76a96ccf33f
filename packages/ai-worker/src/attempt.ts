import { setTimeout as sleep } from 'node:timers/promises';
import { toStorableText } from '@lightdom/domain';
import type { Logger } from '@lightdom/runtime';
import { type AttemptFailure, classifyOllamaError, shutdownFailure, timeoutFailure } from './failures.js';
import {
  abortableOllama,
  type GenerationRequest,
  type GenerationResult,
  type GenerationSnapshot,
  streamGeneration,
} from './generation.js';
import type { AttemptOutcome } from './metrics.js';
import { createProgressThrottle } from './progress.js';
import { partialOutput, splitReasoning } from './reasoning.js';
import { AttemptLostError, type TaskWriter } from './taskWriter.js';

/** Why a running attempt was stopped from outside its stream. */
export type StopReason = 'cancelled' | 'superseded' | 'timeout' | 'shutdown';

/** Stops one attempt's Ollama request; the first reason given wins. */
export interface AttemptControl {
  readonly signal: AbortSignal;
  readonly reason: StopReason | undefined;
  stop(reason: StopReason): void;
}

export function createAttemptControl(): AttemptControl {
  const controller = new AbortController();
  let reason: StopReason | undefined;
  return {
    signal: controller.signal,
    get reason() {
      return reason;
    },
    stop(r) {
      if (reason) return;
      reason = r;
      controller.abort();
    },
  };
}

export interface AttemptContext {
  writer: TaskWriter;
  control: AttemptControl;
  logger: Logger;
  ollamaUrl: string;
  workerId: string;
  attempt: number;
  request: GenerationRequest;
  timeoutMs: number;
  progressIntervalMs: number;
  /** Called once the stream has ended, before the outcome is written. */
  onStreamEnd?: () => void;
}

export interface AttemptReport {
  outcome: AttemptOutcome;
  result?: GenerationResult;
  failure?: AttemptFailure;
}

/** The events schema caps texts at a million characters. */
const maxText = 1_000_000;
/** Bounded and recordable: a model's NUL or broken surrogate becomes U+FFFD rather than a refused command. */
const clip = (text: string) => toStorableText(text.length > maxText ? text.slice(0, maxText) : text);

/** Terminal writes are retried a little (with their idempotency key) before the attempt is left to redelivery. */
const terminalWriteTries = 3;

/**
 * Runs one claimed attempt: streams the completion with throttled progress, then
 * records `AiTaskCompleted` or `AiTaskFailed`. A cancelled or taken-over attempt records
 * nothing; a timeout or shutdown aborts the stream and fails the attempt retryable.
 */
export async function runAttempt(ctx: AttemptContext): Promise<AttemptReport> {
  const { writer, control, logger } = ctx;
  const timer = setTimeout(() => control.stop('timeout'), ctx.timeoutMs);
  let snapshot: GenerationSnapshot = { content: '', thinking: '', chunks: 0 };
  const progress = createProgressThrottle({
    intervalMs: ctx.progressIntervalMs,
    read: () => ({ partialText: clip(partialOutput(snapshot.content, snapshot.thinking)), tokens: snapshot.chunks }),
    async send(p) {
      try {
        await writer.issue('RecordAiTaskProgress', p);
      } catch (err) {
        if (err instanceof AttemptLostError) control.stop(err.status === 'cancelled' ? 'cancelled' : 'superseded');
        else logger.warn({ err }, 'progress not recorded; carrying on');
      }
    },
  });

  let result: GenerationResult | undefined;
  let failure: AttemptFailure | undefined;
  try {
    const ollama = abortableOllama(ctx.ollamaUrl, control.signal);
    result = await streamGeneration(ollama, ctx.request, (s) => {
      snapshot = s;
      progress.offer();
    });
  } catch (err) {
    failure = classifyOllamaError(err);
  } finally {
    clearTimeout(timer);
    await progress.stop();
    ctx.onStreamEnd?.();
  }

  if (!result) {
    const reason = control.reason;
    if (reason === 'cancelled' || reason === 'superseded') return { outcome: reason };
    if (reason === 'timeout') failure = timeoutFailure(ctx.timeoutMs);
    if (reason === 'shutdown') failure = shutdownFailure(ctx.workerId);
  }

  try {
    if (result) {
      const { text, reasoning } = splitReasoning(result.content, result.thinking);
      await writeTerminal(ctx, 'CompleteAiTask', {
        text: clip(text),
        reasoning: reasoning === null ? null : clip(reasoning),
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        durationMs: result.durationMs,
      });
      return { outcome: 'completed', result };
    }
    const failed = failure ?? { error: 'the stream ended without an answer', retryable: true };
    await writeTerminal(ctx, 'FailAiTask', { ...failed });
    return { outcome: 'failed', failure: failed };
  } catch (err) {
    if (err instanceof AttemptLostError) return { outcome: err.status === 'cancelled' ? 'cancelled' : 'superseded' };
    logger.error({ err }, 'could not record the outcome; the task is left for redelivery');
    return { outcome: 'unrecorded' };
  }
}

async function writeTerminal(
  ctx: AttemptContext,
  type: 'CompleteAiTask' | 'FailAiTask',
  data: Record<string, unknown>,
): Promise<void> {
  const key = `${type === 'CompleteAiTask' ? 'complete' : 'fail'}:${ctx.attempt}`;
  for (let tries = 1; ; tries++) {
    try {
      await ctx.writer.issue(type, data, key);
      return;
    } catch (err) {
      if (err instanceof AttemptLostError || tries >= terminalWriteTries) throw err;
      ctx.logger.warn({ err, command: type }, 'could not record the outcome; retrying');
      await sleep(250 * 2 ** tries);
    }
  }
}
