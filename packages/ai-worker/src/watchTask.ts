import type { StoredCommit } from '@lightdom/domain';
import { aggregateSubject, decodeCommit } from '@lightdom/eventstore';
import type { NatsConnection, Subscription } from 'nats';

/** What a change by someone else means for a running attempt. */
export type ForeignChange = 'cancelled' | 'superseded';

/**
 * What a commit on a running task means to the attempt that owns it at `version`:
 * `AiTaskCancelled` cancels it; a failure, start or completion it did not write means
 * another worker took the task over. Progress never matters.
 */
export function foreignChange(commit: StoredCommit, version: number): ForeignChange | null {
  if (commit.version <= version) return null;
  const types = commit.events.map((e) => e.type);
  if (types.includes('AiTaskCancelled')) return 'cancelled';
  if (types.some((t) => t === 'AiTaskFailed' || t === 'AiTaskStarted' || t === 'AiTaskCompleted')) {
    return 'superseded';
  }
  return null;
}

/**
 * Watches one task's subject with a plain NATS subscription: JetStream publishes are
 * ordinary messages too, so every worker hears about its own tasks at once, whichever
 * worker the durable consumer hands the commit to. Missing one (a reconnect) is safe:
 * the attempt's next write is refused by its expected version.
 */
export function watchTask(
  nc: NatsConnection,
  where: { subjectPrefix: string; aggregateType: string; taskId: string },
  onCommit: (commit: StoredCommit) => void,
): Subscription {
  return nc.subscribe(aggregateSubject(where.subjectPrefix, where.aggregateType, where.taskId), {
    callback: (err, msg) => {
      if (err) return;
      try {
        onCommit(decodeCommit(msg.data, 0));
      } catch {
        // Not a commit: the durable consumer terminates it; nothing to do here.
      }
    },
  });
}
