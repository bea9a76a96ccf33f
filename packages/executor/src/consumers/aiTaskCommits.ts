import type { AiTaskState, StoredCommit } from '@lightdom/domain';
import type { AggregateRepository, CommandHandler } from '@lightdom/eventstore';
import type { Logger } from '@lightdom/runtime';
import type { JsMsg } from 'nats';
import { causedContext } from '../context.js';
import { aiTaskOutcome } from '../engine/aiOutcome.js';
import { aiTaskIdFor } from '../engine/keys.js';
import type { Issuer } from '../issuer.js';
import { recordStepOutcome } from './recordOutcome.js';
import { loadRunView } from './runCommits.js';

export interface AiTaskCommitDeps {
  /** Loads AI tasks (their run and step). */
  commands: CommandHandler;
  runs: AggregateRepository;
  issuer: Issuer;
  logger: Logger;
}

/**
 * Handles one aiTask commit: when it ends an AI task that an `ai.generate` step's current
 * attempt requested, records the step's outcome. Commits of other tasks, of older attempts
 * and of runs that moved on are acknowledged and ignored. Acks after recording.
 */
export function createAiTaskCommitHandler(deps: AiTaskCommitDeps) {
  return async (commit: StoredCommit, msg: JsMsg): Promise<void> => {
    const found = aiTaskOutcome(commit.events);
    if (!found) {
      await msg.ackAck();
      return;
    }
    const task = (await deps.commands.repository.load('aiTask', commit.aggregateId, { verify: true }))
      .state as AiTaskState;
    const { workflowRunId: runId, stepId } = task;
    if (!runId || !stepId) {
      await msg.ackAck();
      return;
    }
    const log = deps.logger.child({ correlationId: commit.correlationId, runId, stepId, aiTaskId: commit.aggregateId });
    const view = await loadRunView(deps.runs, runId);
    const step = view.run.steps.find((s) => s.id === stepId);
    const state = view.run.stepStates[stepId];
    const current =
      // A paused run still records what its running steps did.
      (view.run.status === 'started' || view.run.status === 'paused') &&
      step?.type === 'ai.generate' &&
      state?.status === 'running' &&
      aiTaskIdFor(runId, stepId, state.attempts) === commit.aggregateId;
    if (!current || !step || !state) {
      log.debug({ event: found.event.type }, 'AI task ended for a step that moved on; ignored');
      await msg.ackAck();
      return;
    }
    const attempt = state.attempts;
    const context = causedContext({
      commit,
      event: found.event,
      traceparent: msg.headers?.get('traceparent') || undefined,
    });
    const info = { id: stepId, type: step.type, attempt, startedAt: view.stepStartedAt[stepId] };
    await recordStepOutcome(deps.issuer, runId, info, found.outcome, context, log);
    await msg.ackAck();
  };
}
