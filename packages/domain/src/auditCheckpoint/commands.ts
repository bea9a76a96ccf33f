import { z } from 'zod';

const position = z.number().int('must be an integer').min(1).max(Number.MAX_SAFE_INTEGER);
const chainIdSchema = z.number().int('must be an integer').positive().max(Number.MAX_SAFE_INTEGER);
export const transactionHashSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x followed by 64 hex characters')
  .transform((h) => h.toLowerCase());

/** Schemas of each audit-checkpoint command's `data`, keyed by command type. */
export const auditCheckpointCommandSchemas = {
  /**
   * Records the Merkle root over the commits at positions `fromPosition..toPosition`
   * (inclusive). `chainId` and `transactionHash` may follow later through
   * RecordCheckpointTransaction.
   */
  AnchorAuditCheckpoint: z
    .object({
      fromPosition: position,
      toPosition: position,
      merkleRoot: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
      commitCount: z.number().int('must be an integer').min(1).max(Number.MAX_SAFE_INTEGER),
      chainId: chainIdSchema.optional(),
      transactionHash: transactionHashSchema.optional(),
    })
    .strict()
    .superRefine((d, ctx) => {
      if (d.toPosition < d.fromPosition) {
        ctx.addIssue({ code: 'custom', path: ['toPosition'], message: 'must not be below fromPosition' });
      } else if (d.commitCount > d.toPosition - d.fromPosition + 1) {
        ctx.addIssue({ code: 'custom', path: ['commitCount'], message: 'must not exceed the number of positions' });
      }
      if (d.transactionHash !== undefined && d.chainId === undefined) {
        ctx.addIssue({ code: 'custom', path: ['chainId'], message: 'is required with transactionHash' });
      }
    }),
  /** The anchoring transaction was mined. */
  RecordCheckpointTransaction: z
    .object({
      chainId: chainIdSchema,
      transactionHash: transactionHashSchema,
      blockNumber: z.number().int('must be an integer').nonnegative().max(Number.MAX_SAFE_INTEGER),
    })
    .strict(),
} as const;

type Schemas = typeof auditCheckpointCommandSchemas;
export type AuditCheckpointCommandType = keyof Schemas;

/** A validated audit-checkpoint command: `{type, data}` with `data` parsed by its schema. */
export type AuditCheckpointCommand = {
  [K in AuditCheckpointCommandType]: { type: K; data: z.output<Schemas[K]> };
}[AuditCheckpointCommandType];
