import type pg from 'pg';
import type { Ack, Load } from './load.js';
import type { Stack } from './stack.js';

/** What the injections measured; the checks judge it at the end. */
export interface Measurements {
  /** Commands sent while NATS was down: each should be a quick 503. */
  natsDownProbes: { status: number; ms: number }[];
  /** From nats-server listening again to the first acknowledged command, in ms. */
  natsRecoveryMs?: number;
  /** Services that did not answer /ready within the settle time after an injection. */
  notReady: string[];
  /** Read statuses (GET /api/campaigns) while PostgreSQL was down. */
  readsWhilePostgresDown: number[];
  /** From PostgreSQL accepting connections again to the first 200 read, in ms. */
  readRecoveryMs?: number;
  /** From PostgreSQL accepting connections again to the projector's checkpoint moving, in ms. */
  projectorResumeMs?: number;
  /**
   * The checkpoint of the first batch whose hot views reached Redis after its restart:
   * campaigns changed after it must have a hot view again.
   */
  hotViewsBackAfter?: number;
  /** When the last injection ended (ms since the epoch). */
  lastDisruptionAt: number;
}

export interface FaultContext {
  stack: Stack;
  load: Load;
  /** Pool on the private PostgreSQL, for reading checkpoints while things break. */
  pool: pg.Pool;
  quick: boolean;
  /** Launched campaigns of the probes' own: one for probes during an outage, one for recovery. */
  probeCampaigns: { outage: string; recovery: string };
  /** Commands the probes got acknowledged: checked like the load's. */
  probeAcks: Ack[];
  runId: string;
  measurements: Measurements;
}

/** The read model's checkpoint, or -1 while PostgreSQL does not answer. */
export async function checkpoint(ctx: FaultContext): Promise<number> {
  try {
    const r = await ctx.pool.query<{ p: string | null }>(
      `select min(position) as p from "${ctx.stack.names.schema}".projection_checkpoints`,
    );
    return Number(r.rows[0]?.p ?? 0);
  } catch {
    return -1;
  }
}
