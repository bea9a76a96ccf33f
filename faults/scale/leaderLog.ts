import type { StoredCommit } from '@lightdom/domain';
import { decodeCommit } from '@lightdom/eventstore';
import type { JetStreamManager } from 'nats';
import { type CheckResult, check, firstOf } from '../checks/check.js';

/**
 * The log as the stream leader holds it: every position fetched with STREAM.MSG.GET, which
 * only the leader answers (direct gets and consumers may be served by a follower).
 */
export async function readFromLeader(jsm: JetStreamManager, stream: string, head: number): Promise<StoredCommit[]> {
  const out: StoredCommit[] = [];
  for (let seq = 1; seq <= head; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    out.push(decodeCommit(m.data, m.seq));
  }
  return out;
}

/** A consumer's read of the log must be the leader's log, commit for commit. */
export function sameLogCheck(viaConsumer: StoredCommit[], fromLeader: StoredCommit[]): CheckResult {
  const differ = fromLeader.filter((c, i) => viaConsumer[i]?.commitId !== c.commitId);
  return check(
    'the log read through a consumer equals the stream leader’s log, commit for commit',
    differ.length === 0 && viaConsumer.length === fromLeader.length,
    differ.length === 0 && viaConsumer.length === fromLeader.length
      ? `${fromLeader.length} commits identical`
      : `${differ.length} positions differ (${viaConsumer.length} via the consumer, ${fromLeader.length} from the leader): ${firstOf(
          differ,
          4,
          (c) =>
            `${c.position}: leader ${c.commandType} ${c.aggregateId}, consumer ${viaConsumer[c.position - 1]?.commandType} ${viaConsumer[c.position - 1]?.aggregateId}`,
        )}`,
  );
}
