import type { StoredCommit } from '@lightdom/domain';
import type { JsMsg } from 'nats';
import { decodeCommit } from '../store/commitCodec.js';

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
