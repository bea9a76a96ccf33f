import { type Decider, ignoreUnknownEvent } from '../decider.js';
import type { ProjectionCommand } from './commands.js';
import type { ProjectionEvent } from './events.js';

export interface ProjectionState {
  /** Positions an operator decided this projection may skip, in the order decided. */
  skipped: number[];
}

export const initialProjectionState = (): ProjectionState => ({ skipped: [] });

function decide(command: ProjectionCommand, state: ProjectionState, ctx: { aggregateId: string }): ProjectionEvent[] {
  switch (command.type) {
    case 'SkipProjectionCommit': {
      // Deciding twice is not an error: the first decision stands, nothing new is recorded.
      if (state.skipped.includes(command.data.position)) return [];
      return [
        {
          type: 'ProjectionCommitSkipped',
          data: { projection: ctx.aggregateId, position: command.data.position, reason: command.data.reason },
        },
      ];
    }
    default: {
      // A one-command union does not narrow `command` itself; its `type` does.
      const _exhaustive: never = command.type;
      throw new Error(`unhandled command ${_exhaustive as string}`);
    }
  }
}

function evolve(state: ProjectionState, event: ProjectionEvent): ProjectionState {
  switch (event.type) {
    case 'ProjectionCommitSkipped':
      return { skipped: [...state.skipped, event.data.position] };
    default:
      return ignoreUnknownEvent(state, event.type);
  }
}

/** Operator decisions about a read model; there is no create command: the name is the id. */
export const projectionDecider: Decider<ProjectionCommand, ProjectionEvent, ProjectionState> = {
  aggregateType: 'projection',
  initialState: initialProjectionState,
  decide,
  evolve,
};
