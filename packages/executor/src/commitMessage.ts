import { decodeCommit, type StoredCommit } from '@lightdom/events';
import type { JsMsg } from 'nats';

/** The commit a message carries, or undefined when its body is not a commit. */
export function readCommit(msg: JsMsg): StoredCommit | undefined {
  try {
    const commit = decodeCommit(msg.data, msg.seq);
    if (typeof commit.correlationId !== 'string' || !Array.isArray(commit.events)) return undefined;
    return commit;
  } catch {
    return undefined;
  }
}
