import type { WorkflowStep } from './steps.js';

export type WorkflowStatus = 'active' | 'deprecated';

export interface WorkflowEventData {
  WorkflowDefined: { name: string; description: string; steps: WorkflowStep[]; definitionVersion: number };
  WorkflowRevised: { steps: WorkflowStep[]; definitionVersion: number };
  WorkflowDeprecated: { reason: string | null };
}

export type WorkflowEventType = keyof WorkflowEventData;

export type WorkflowEvent = {
  [K in WorkflowEventType]: { type: K; data: WorkflowEventData[K] };
}[WorkflowEventType];

/** Current schemaVersion of every workflow-definition event. */
export const workflowEventVersions: Record<WorkflowEventType, number> = {
  WorkflowDefined: 1,
  WorkflowRevised: 1,
  WorkflowDeprecated: 1,
};
