import type { RequestContext } from '@lightdom/app';
import { childTraceparent, type RecordedEvent, type StoredCommit } from '@lightdom/domain';

/** What caused a command the executor records: an event of a commit it handles. */
export interface Cause {
  commit: Pick<StoredCommit, 'correlationId'>;
  event: Pick<RecordedEvent, 'id'>;
  traceparent?: string | undefined;
}

/**
 * The context of a command an event caused: the commit's correlation id, the event as its
 * cause, and a new span in the event's trace. Who issues it is the core's business.
 */
export const causedContext = (cause: Cause): RequestContext => ({
  correlationId: cause.commit.correlationId,
  causationId: cause.event.id,
  traceparent: childTraceparent(cause.traceparent),
});
