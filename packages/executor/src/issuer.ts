import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestContext, SubmitOptions } from '@lightdom/app';
import { type CommandResult, isLightdomError } from '@lightdom/domain';
import type { Logger } from '@lightdom/runtime';
import { countResult, type ExecutorMetrics } from './metrics.js';

/** A command for the command handler, with the idempotency key every executor command carries. */
export interface IssuedCommand {
  type: string;
  aggregateId: string;
  idempotencyKey: string;
  data: Record<string, unknown>;
}

/**
 * Records a command through the application core as the executor's own identity; with
 * `onBehalfOfRun`, authorised as the run's requester (the commit's `via` is the executor).
 */
export type Submit = (command: unknown, context: RequestContext, options?: SubmitOptions) => Promise<CommandResult>;

/** The step a command concerns, for metrics and logs. */
export interface StepInfo {
  id: string;
  type: string;
  attempt?: number | undefined;
  startedAt?: string | undefined;
}

export interface Issuer {
  /**
   * Issues a command. Returns null when the domain refuses it (the run moved on: another
   * executor or an earlier delivery already did it, or the run ended); throws when it may
   * succeed later (UNAVAILABLE, a conflict that outlasted the handler's retries).
   */
  issue(
    command: IssuedCommand,
    context: RequestContext,
    log: Logger,
    step?: StepInfo,
    options?: SubmitOptions,
  ): Promise<CommandResult | null>;
  /**
   * Like `issue`, for an activity's outcome: retries a few times in process before
   * throwing, because the alternative (redelivery) runs the activity again. A refusal
   * that does not mean "the run moved on" (the commit is too large, the data is not
   * valid, a bug in the handler) throws UnrecordableOutcome at once: retrying cannot help.
   */
  record(command: IssuedCommand, context: RequestContext, log: Logger, step: StepInfo): Promise<CommandResult | null>;
}

/** An outcome the log refuses for a reason other than the run moving on; `reason` says why, without the data. */
export class UnrecordableOutcome extends Error {
  constructor(readonly reason: string) {
    super(`the outcome cannot be recorded: ${reason}`);
  }
}

/** Refusals that mean another delivery or executor already did it, or the run ended. */
const movedOn = new Set([
  'INVALID_TRANSITION',
  'ALREADY_EXISTS',
  'NOT_FOUND',
  'VERSION_MISMATCH',
  'INVARIANT_VIOLATION',
]);

function unrecordable(err: unknown): UnrecordableOutcome | undefined {
  if (isLightdomError(err)) {
    if (err.retryable || movedOn.has(err.code)) return undefined;
    const issues = err.issues?.map((i) => ` ${i.field}: ${i.message}`).join(';') ?? '';
    return new UnrecordableOutcome(`${err.code}: ${err.message}${issues}`.slice(0, 1000));
  }
  const e = err as Error;
  return new UnrecordableOutcome(`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`.slice(0, 1000));
}

/** Codes that mean a bug or a misconfiguration rather than a race; logged as warnings. */
const suspicious = new Set(['VALIDATION_FAILED', 'UNKNOWN_COMMAND', 'FORBIDDEN']);

export function createIssuer(deps: { submit: Submit; metrics: ExecutorMetrics; clock: () => Date }): Issuer {
  const { submit, metrics, clock } = deps;

  async function issue(
    command: IssuedCommand,
    context: RequestContext,
    log: Logger,
    step?: StepInfo,
    options?: SubmitOptions,
    strict = false,
  ) {
    try {
      const result = await submit(command, context, options);
      countResult(metrics, command, result, step, clock());
      const fields = { command: command.type, stepId: step?.id, attempt: step?.attempt, events: result.events };
      if (result.duplicate) log.debug(fields, 'command already issued; first result returned');
      else log.info({ ...fields, position: result.position }, 'command issued');
      return result;
    } catch (err) {
      const refused = strict ? unrecordable(err) : undefined;
      if (refused) {
        metrics.commands.inc({ type: command.type, result: 'unrecordable' });
        log.warn({ command: command.type, stepId: step?.id, reason: refused.reason }, 'outcome cannot be recorded');
        throw refused;
      }
      if (!isLightdomError(err) || err.retryable) throw err;
      metrics.commands.inc({ type: command.type, result: 'stale' });
      const fields = { command: command.type, stepId: step?.id, attempt: step?.attempt, code: err.code };
      if (suspicious.has(err.code)) log.warn({ ...fields, err }, 'command refused');
      else log.debug({ ...fields, reason: err.message }, 'command refused; the run moved on');
      return null;
    }
  }

  return {
    issue: (command, context, log, step, options) => issue(command, context, log, step, options),
    async record(command, context, log, step) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await issue(command, context, log, step, undefined, true);
        } catch (err) {
          if (err instanceof UnrecordableOutcome || attempt >= 4) throw err;
          log.warn({ err, command: command.type, stepId: step.id }, 'recording the outcome failed; retrying');
          await sleep(250 * 2 ** (attempt - 1));
        }
      }
    },
  };
}
