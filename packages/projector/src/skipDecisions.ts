import type { EventStore } from '@lightdom/eventstore';

/** An operator's decision (a ProjectionCommitSkipped event) that a projection may pass over one commit. */
export interface SkipDecision {
  projection: string;
  position: number;
  reason: string;
  actor: string;
  /** Position of the commit that recorded the decision. */
  decisionPosition: number;
}

/**
 * Looks decisions up in the log. A stalled projection has not read that far (the
 * decision comes after the commit it is about), so it reads the projection's own
 * aggregate, `projection.<name>`, directly.
 */
export async function findSkipDecision(
  store: EventStore,
  projection: string,
  position: number,
): Promise<SkipDecision | undefined> {
  for (const commit of await store.readAggregate('projection', projection)) {
    for (const event of commit.events) {
      const data = event.data as Partial<SkipDecision> | null;
      if (event.type !== 'ProjectionCommitSkipped' || data?.position !== position) continue;
      if (data.projection !== projection) continue;
      return {
        projection,
        position,
        reason: String(data.reason ?? ''),
        actor: String(commit.actor),
        decisionPosition: commit.position,
      };
    }
  }
  return undefined;
}
