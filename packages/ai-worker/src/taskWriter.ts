import type { RequestContext } from '@lightdom/app';
import {
  type AiTaskCommandType,
  type AiTaskState,
  type AiTaskStatus,
  type CommandResult,
  isLightdomError,
} from '@lightdom/domain';
import type { AggregateRepository } from '@lightdom/eventstore';

export const aiTaskAggregate = 'aiTask';

/** How the worker touches tasks: commands through the application core as the worker, state from the log. */
export interface TaskCommands {
  /** Records a command as the worker's service identity (the core authorises it). */
  submit(command: Record<string, unknown>, context: RequestContext): Promise<CommandResult>;
  /** Loads tasks (the command handler's repository, with its cache). */
  repository: AggregateRepository;
}

/** The task moved on without this attempt: cancelled, or failed or restarted by another worker. */
export class AttemptLostError extends Error {
  constructor(readonly status: AiTaskStatus) {
    super(`the attempt no longer owns the task (now ${status})`);
    this.name = 'AttemptLostError';
  }
}

/** Codes that mean "the task is not where this command expects it", not a failure to retry. */
export const isRejection = (err: unknown): boolean =>
  isLightdomError(err) &&
  ['INVALID_TRANSITION', 'VERSION_MISMATCH', 'CONCURRENCY_CONFLICT', 'IDEMPOTENCY_KEY_REUSED', 'NOT_FOUND'].includes(
    err.code,
  );

export interface TaskWriter {
  /** The task's version after this attempt's last command. */
  readonly version: number;
  /**
   * Issues one command for the attempt with `expectedVersion`, so nothing is recorded on
   * a task that moved on; throws AttemptLostError when it did. With `idempotencyKey`
   * (suffixed to the task id) a retry after an unknown outcome is recorded once.
   */
  issue(type: AiTaskCommandType, data: Record<string, unknown>, idempotencyKey?: string): Promise<CommandResult>;
}

/** Writes one attempt's commands: it owns the task while it is started with this attempt by this worker. */
export function createTaskWriter(
  tasks: TaskCommands,
  attempt: { taskId: string; number: number; workerId: string; version: number; context: RequestContext },
): TaskWriter {
  let version = attempt.version;
  const { taskId } = attempt;

  async function ownership(): Promise<{ owned: boolean; status: AiTaskStatus; version: number }> {
    const loaded = await tasks.repository.load(aiTaskAggregate, taskId, { verify: true });
    const state = loaded.state as AiTaskState;
    const owned =
      state.status === 'started' && state.attempts === attempt.number && state.workerId === attempt.workerId;
    return { owned, status: state.status, version: loaded.version };
  }

  return {
    get version() {
      return version;
    },
    async issue(type, data, idempotencyKey) {
      for (let tries = 0; ; tries++) {
        try {
          const result = await tasks.submit(
            {
              type,
              aggregateId: taskId,
              expectedVersion: version,
              ...(idempotencyKey ? { idempotencyKey: `${taskId}:${idempotencyKey}` } : {}),
              data,
            },
            attempt.context,
          );
          version = result.version;
          return result;
        } catch (err) {
          if (!isRejection(err)) throw err;
          // Still ours means our own last write landed unseen (its reply was lost): catch up once.
          const now = await ownership();
          if (!now.owned || tries > 0) throw new AttemptLostError(now.status);
          version = now.version;
        }
      }
    },
  };
}
