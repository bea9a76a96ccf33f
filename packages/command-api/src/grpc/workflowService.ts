import type { Application } from '@lightdom/app';
import { signalCommand } from '@lightdom/app';
import type { CommandResult } from '@lightdom/domain';
import { z } from 'zod';
import { type CallContext, requestContext } from './context.js';
import {
  type ExecuteWorkflowRequestMessage,
  parseJsonObject,
  parseRequest,
  type SignalRunRequestMessage,
} from './messages.js';

const executeRequest = z.object({
  workflowId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'must be a workflow id'),
  definitionVersion: z.number().int().nonnegative().optional(),
  input: z.string(),
  idempotencyKey: z.string().max(200),
});

const signalRequest = z.object({
  runId: z.string(),
  name: z.string(),
  payload: z.string(),
  idempotencyKey: z.string().max(200),
});

/**
 * `lightdom.v1.WorkflowService`: ExecuteWorkflow is the core's `submit` of RequestWorkflowRun
 * (the run rules live there: the core fills the definition's steps and refuses an unknown
 * workflow or version); the executor picks the run up from the log.
 */
export function createWorkflowService(deps: { app: Pick<Application, 'submit'> }) {
  return {
    async executeWorkflow(request: ExecuteWorkflowRequestMessage, ctx: CallContext): Promise<CommandResult> {
      const r = parseRequest(executeRequest, request);
      const input = parseJsonObject('input', r.input);
      return deps.app.submit(
        ctx.identity,
        {
          type: 'RequestWorkflowRun',
          data: {
            workflowId: r.workflowId,
            // 0 (proto3's unset) and absent both mean the current definition.
            ...(r.definitionVersion ? { definitionVersion: r.definitionVersion } : {}),
            input,
          },
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
        },
        requestContext(ctx),
      );
    },

    /** SignalRun: the same SignalWorkflowRun the REST route sends; the core checks the run id and name. */
    async signalRun(request: SignalRunRequestMessage, ctx: CallContext): Promise<CommandResult> {
      const r = parseRequest(signalRequest, request);
      const payload = parseJsonObject('payload', r.payload);
      return deps.app.submit(
        ctx.identity,
        signalCommand(r.runId, r.name, payload, r.idempotencyKey || undefined),
        requestContext(ctx),
      );
    },
  };
}
