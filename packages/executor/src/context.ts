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
 * cause, and the trace. `cause.traceparent` is the executor's own span for that work (the
 * core opens the command's span below it); without one, a new span in a new trace.
 */
export const causedContext = (cause: Cause): RequestContext => ({
  correlationId: cause.commit.correlationId,
  causationId: cause.event.id,
  traceparent: cause.traceparent ?? childTraceparent(undefined),
});
