import {
  type CommandResult,
  LightdomError,
  type WorkflowState,
  type WorkflowStep,
  workflowDecider,
} from '@lightdom/domain';
import { type CommandHandler, type EventStore, foldCommits, type LoadedAggregate } from '@lightdom/eventstore';
import { z } from 'zod';
import { type CallContext, commandMetadata } from './context.js';
import { type ExecuteWorkflowRequestMessage, parseJsonObject, parseRequest } from './messages.js';

export interface WorkflowServiceDeps {
  commands: CommandHandler;
  store: EventStore;
}

const executeRequest = z.object({
  workflowId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a workflow id'),
  definitionVersion: z.number().int().nonnegative().optional(),
  input: z.string(),
  idempotencyKey: z.string().max(200),
});

/** The steps of a workflow's definition at `version` (0: the current one), read from the log. */
async function definitionOf(
  { commands, store }: WorkflowServiceDeps,
  workflowId: string,
  version: number,
): Promise<{ definitionVersion: number; steps: WorkflowStep[] }> {
  // Verified: a deprecation or revision appended by another instance must count.
  const loaded = await commands.repository.load('workflow', workflowId, { verify: true });
  const current = loaded.state as WorkflowState;
  if (!current.exists) throw new LightdomError('NOT_FOUND', `No workflow ${workflowId}`);
  if (current.status !== 'active') {
    throw new LightdomError('INVALID_TRANSITION', `Workflow ${workflowId} is ${current.status}: it cannot run`, {
      details: { status: current.status, allowedFrom: ['active'] },
    });
  }
  if (version === 0 || version === current.definitionVersion) {
    return { definitionVersion: current.definitionVersion, steps: current.steps };
  }
  if (version > current.definitionVersion) {
    throw new LightdomError('NOT_FOUND', `Workflow ${workflowId} has no definition version ${version}`, {
      details: { currentVersion: current.definitionVersion },
    });
  }
  // An earlier revision: fold the definition's history until it reaches that version.
  let at: LoadedAggregate = { ...loaded, state: workflowDecider.initialState(), version: 0, position: 0, hash: null };
  for (const commit of await store.readAggregate('workflow', workflowId)) {
    at = foldCommits(workflowDecider, at, [commit]);
    const state = at.state as WorkflowState;
    if (state.definitionVersion === version) return { definitionVersion: version, steps: state.steps };
  }
  throw new LightdomError('NOT_FOUND', `Workflow ${workflowId} has no definition version ${version}`);
}

/**
 * `lightdom.v1.WorkflowService`: ExecuteWorkflow issues RequestWorkflowRun with a snapshot
 * of the definition's steps, through the same command handler as every other command; the
 * executor picks the run up from the log.
 */
export function createWorkflowService(deps: WorkflowServiceDeps) {
  return {
    async executeWorkflow(request: ExecuteWorkflowRequestMessage, ctx: CallContext): Promise<CommandResult> {
      const r = parseRequest(executeRequest, request);
      const input = parseJsonObject('input', r.input);
      const { definitionVersion, steps } = await definitionOf(deps, r.workflowId, r.definitionVersion ?? 0);
      return deps.commands.handle(
        {
          type: 'RequestWorkflowRun',
          data: { workflowId: r.workflowId, definitionVersion, steps, input },
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
        },
        commandMetadata(ctx),
      );
    },
  };
}
