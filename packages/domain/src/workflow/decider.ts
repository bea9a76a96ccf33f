import { canonicalJson } from '../canonical.js';
import { type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError } from '../errors.js';
import type { WorkflowCommand } from './commands.js';
import type { WorkflowEvent, WorkflowStatus } from './events.js';
import { assertWorkflowDag, type WorkflowStep } from './steps.js';

export interface WorkflowState {
  exists: boolean;
  status: WorkflowStatus;
  name: string;
  description: string;
  /** Starts at 1; each revision adds one. Runs pin the version they were started with. */
  definitionVersion: number;
  steps: WorkflowStep[];
}

export const initialWorkflowState = (): WorkflowState => ({
  exists: false,
  status: 'active',
  name: '',
  description: '',
  definitionVersion: 0,
  steps: [],
});

function requireActive(state: WorkflowState, type: WorkflowCommand['type']): void {
  if (state.status !== 'active') {
    throw new LightdomError('INVALID_TRANSITION', `${type} is not allowed while the workflow is ${state.status}`, {
      details: { status: state.status, command: type, allowedFrom: ['active'] },
    });
  }
}

function decide(command: WorkflowCommand, state: WorkflowState): WorkflowEvent[] {
  if (command.type === 'DefineWorkflow') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The workflow already exists');
    const { name, description, steps } = command.data;
    assertWorkflowDag(steps);
    return [{ type: 'WorkflowDefined', data: { name, description, steps, definitionVersion: 1 } }];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The workflow does not exist');

  switch (command.type) {
    case 'ReviseWorkflow': {
      requireActive(state, command.type);
      assertWorkflowDag(command.data.steps);
      // Re-sending the current steps must not mint a new version that runs would pin.
      if (canonicalJson(command.data.steps) === canonicalJson(state.steps)) return [];
      return [
        {
          type: 'WorkflowRevised',
          data: { steps: command.data.steps, definitionVersion: state.definitionVersion + 1 },
        },
      ];
    }
    case 'DeprecateWorkflow':
      requireActive(state, command.type);
      return [{ type: 'WorkflowDeprecated', data: { reason: command.data.reason ?? null } }];
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function evolve(state: WorkflowState, event: WorkflowEvent): WorkflowState {
  switch (event.type) {
    case 'WorkflowDefined':
      return { ...state, ...event.data, exists: true, status: 'active' };
    case 'WorkflowRevised':
      return { ...state, steps: event.data.steps, definitionVersion: event.data.definitionVersion };
    case 'WorkflowDeprecated':
      return { ...state, status: 'deprecated' };
    default: {
      return ignoreUnknownEvent(state, event);
    }
  }
}

export const workflowDecider: Decider<WorkflowCommand, WorkflowEvent, WorkflowState> = {
  aggregateType: 'workflow',
  initialState: initialWorkflowState,
  decide,
  evolve,
};
