import { type Decider, ignoreUnknownEvent } from '../decider.js';
import { LightdomError, validationError } from '../errors.js';
import type { AuditCheckpointCommand } from './commands.js';
import type { AuditCheckpointEvent, AuditCheckpointStatus } from './events.js';

export interface AuditCheckpointState {
  exists: boolean;
  status: AuditCheckpointStatus;
  fromPosition: number;
  toPosition: number;
  merkleRoot: string;
  commitCount: number;
  chainId: number | null;
  transactionHash: string | null;
  blockNumber: number | null;
}

export const initialAuditCheckpointState = (): AuditCheckpointState => ({
  exists: false,
  status: 'anchored',
  fromPosition: 0,
  toPosition: 0,
  merkleRoot: '',
  commitCount: 0,
  chainId: null,
  transactionHash: null,
  blockNumber: null,
});

function decide(command: AuditCheckpointCommand, state: AuditCheckpointState): AuditCheckpointEvent[] {
  if (command.type === 'AnchorAuditCheckpoint') {
    if (state.exists) throw new LightdomError('ALREADY_EXISTS', 'The audit checkpoint already exists');
    const { fromPosition, toPosition, merkleRoot, commitCount, chainId, transactionHash } = command.data;
    if (toPosition < fromPosition) {
      throw validationError([{ field: 'data.toPosition', message: 'must not be below fromPosition' }]);
    }
    return [
      {
        type: 'AuditCheckpointAnchored',
        data: {
          fromPosition,
          toPosition,
          merkleRoot,
          commitCount,
          chainId: chainId ?? null,
          transactionHash: transactionHash ?? null,
        },
      },
    ];
  }
  if (!state.exists) throw new LightdomError('NOT_FOUND', 'The audit checkpoint does not exist');

  switch (command.type) {
    case 'RecordCheckpointTransaction': {
      const { chainId, transactionHash, blockNumber } = command.data;
      if (state.status === 'confirmed') {
        const same =
          chainId === state.chainId && transactionHash === state.transactionHash && blockNumber === state.blockNumber;
        if (same) return [];
        throw new LightdomError('INVALID_TRANSITION', 'The checkpoint is already confirmed by another transaction', {
          details: { status: state.status, command: command.type, transactionHash: state.transactionHash },
        });
      }
      // A different transaction hash is fine (a re-sent or sped-up transaction); another chain is not.
      if (state.chainId !== null && chainId !== state.chainId) {
        throw new LightdomError('INVARIANT_VIOLATION', `The checkpoint is anchored on chain ${state.chainId}`, {
          details: { field: 'data.chainId', chainId: state.chainId },
        });
      }
      return [{ type: 'AuditCheckpointConfirmed', data: { chainId, transactionHash, blockNumber } }];
    }
    default: {
      const _exhaustive: never = command;
      throw new Error(`unhandled command ${(_exhaustive as { type: string }).type}`);
    }
  }
}

function evolve(state: AuditCheckpointState, event: AuditCheckpointEvent): AuditCheckpointState {
  switch (event.type) {
    case 'AuditCheckpointAnchored':
      return { ...state, ...event.data, exists: true, status: 'anchored' };
    case 'AuditCheckpointConfirmed':
      return { ...state, ...event.data, status: 'confirmed' };
    default: {
      return ignoreUnknownEvent(state, event);
    }
  }
}

export const auditCheckpointDecider: Decider<AuditCheckpointCommand, AuditCheckpointEvent, AuditCheckpointState> = {
  aggregateType: 'auditCheckpoint',
  initialState: initialAuditCheckpointState,
  decide,
  evolve,
};
