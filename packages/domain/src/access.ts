import { z } from 'zod';

/**
 * What a caller may do, one model on every protocol:
 * - `reader`: reads, history, subscriptions;
 * - `operator`: public commands and everything a reader may;
 * - `service`: internal commands (the executor and the AI worker), reads, and public
 *   commands only on behalf of the identity that requested a workflow run;
 * - `admin`: everything, including projection operations and audit export.
 */
export const roles = ['reader', 'operator', 'service', 'admin'] as const;
export type Role = (typeof roles)[number];
export const roleSchema = z.enum(roles);

/** Who is calling, after authentication. */
export interface Identity {
  actor: string;
  role: Role;
}

/**
 * Who may send a command:
 * - `public`: what operators and integrations send;
 * - `internal`: what the executor and the AI worker record as they do the work;
 * - `admin`: operations on the system itself (skipping a projection's commit).
 */
export type CommandVisibility = 'public' | 'internal' | 'admin';

/** Every command type's visibility. A new command must be listed (the catalogue test checks). */
export const commandVisibility: Readonly<Record<string, CommandVisibility>> = Object.freeze({
  CreateCampaign: 'public',
  RenameCampaign: 'public',
  UpdateCampaign: 'public',
  ChangeCampaignBudget: 'public',
  ScheduleCampaign: 'public',
  LaunchCampaign: 'public',
  PauseCampaign: 'public',
  ResumeCampaign: 'public',
  CompleteCampaign: 'public',
  ArchiveCampaign: 'public',
  // Delivery figures come from ad platforms through integrations.
  RecordCampaignMetrics: 'public',
  DefineWorkflow: 'public',
  ReviseWorkflow: 'public',
  DeprecateWorkflow: 'public',
  RequestWorkflowRun: 'public',
  CancelWorkflowRun: 'public',
  SignalWorkflowRun: 'public',
  PauseWorkflowRun: 'public',
  ResumeWorkflowRun: 'public',
  RetryWorkflowStep: 'public',
  CreateSchedule: 'public',
  PauseSchedule: 'public',
  ResumeSchedule: 'public',
  DeleteSchedule: 'public',
  // The executor's scheduler records which slot fired.
  FireSchedule: 'internal',
  StartWorkflowRun: 'internal',
  StartWorkflowStep: 'internal',
  CompleteWorkflowStep: 'internal',
  FailWorkflowStep: 'internal',
  RequestAiTask: 'public',
  CancelAiTask: 'public',
  StartAiTask: 'internal',
  RecordAiTaskProgress: 'internal',
  CompleteAiTask: 'internal',
  FailAiTask: 'internal',
  AnchorAuditCheckpoint: 'internal',
  RecordCheckpointTransaction: 'internal',
  SkipProjectionCommit: 'admin',
});

/** Whether `role` may send a command of `visibility` on its own behalf. */
export function mayIssue(role: Role, visibility: CommandVisibility): boolean {
  switch (visibility) {
    case 'public':
      return role === 'operator' || role === 'admin';
    case 'internal':
      return role === 'service' || role === 'admin';
    case 'admin':
      return role === 'admin';
  }
}

/** Every role may read, page history and subscribe. */
export const mayRead = (role: Role): boolean => (roles as readonly string[]).includes(role);
