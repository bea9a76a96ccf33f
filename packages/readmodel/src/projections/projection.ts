import type { StoredCommit } from '@lightdom/domain';
import type pg from 'pg';

/** A read model: applies commits inside the transaction that also moves its checkpoint. */
export interface Projection {
  /** Checkpoint name; a new name means a rebuild from position 0. */
  name: string;
  /** The aggregate types whose commits it reads (the others it passes over). */
  aggregateTypes?: readonly string[];
  /**
   * Applies commits that are past the checkpoint, in order, using `client` (an open
   * transaction). Returns what changed, for the hot views and the Pub/Sub feed.
   */
  apply(client: pg.PoolClient, schema: string, commits: StoredCommit[]): Promise<ProjectionChange[]>;
}

export interface ProjectionChange {
  aggregateType: string;
  aggregateId: string;
  /** The row as Postgres holds it now (`returning *`). */
  view: Record<string, unknown>;
  position: number;
  version: number;
}
