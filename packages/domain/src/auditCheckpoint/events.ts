export type AuditCheckpointStatus = 'anchored' | 'confirmed';

export interface AuditCheckpointEventData {
  AuditCheckpointAnchored: {
    fromPosition: number;
    toPosition: number;
    merkleRoot: string;
    commitCount: number;
    chainId: number | null;
    transactionHash: string | null;
  };
  AuditCheckpointConfirmed: { chainId: number; transactionHash: string; blockNumber: number };
}

export type AuditCheckpointEventType = keyof AuditCheckpointEventData;

export type AuditCheckpointEvent = {
  [K in AuditCheckpointEventType]: { type: K; data: AuditCheckpointEventData[K] };
}[AuditCheckpointEventType];

/** Current schemaVersion of every audit-checkpoint event. */
export const auditCheckpointEventVersions: Record<AuditCheckpointEventType, number> = {
  AuditCheckpointAnchored: 1,
  AuditCheckpointConfirmed: 1,
};
