import type { StoredCommit } from '@lightdom/domain';
import type { Ack, Load } from '../lib/load.js';
import { type CheckResult, check, firstOf } from './check.js';

/**
 * The log is the truth: everything the API acknowledged must be in it exactly once, and
 * nothing it refused may be in it.
 */
export function logChecks(commits: StoredCommit[], load: Load, probeAcks: Ack[]): CheckResult[] {
  const byPosition = new Map(commits.map((c) => [c.position, c]));
  const byKey = new Map<string, StoredCommit[]>();
  for (const c of commits) {
    if (c.idempotencyKey) byKey.set(c.idempotencyKey, [...(byKey.get(c.idempotencyKey) ?? []), c]);
  }
  const acks = [...load.acks, ...probeAcks];
  // A command whose decision was "nothing to do" is acknowledged without a commit.
  const withCommit = acks.filter((a) => a.commitId !== '');
  const missing = withCommit.filter((a) => {
    const c = byPosition.get(a.position);
    return !c || c.idempotencyKey !== a.key || c.aggregateId !== a.id;
  });
  const duplicates = acks.filter((a) => a.duplicate).length;
  const retried = acks.filter((a) => a.attempts > 1).length;
  const twice = [...byKey].filter(([, cs]) => cs.length > 1);
  const refusedButDone = load.rejections.filter((r) => byKey.has(r.key));
  const statuses = [...load.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s || 'no answer'} ×${n}`);

  return [
    check(
      'every acknowledged command is in the log, at the position it was acknowledged with',
      missing.length === 0,
      missing.length === 0
        ? `${withCommit.length} acknowledged commands found (${retried} needed retries; duplicates of an earlier attempt answered: ${duplicates})`
        : `${missing.length} missing or different: ${firstOf(missing, 5, (a) => `${a.type} key ${a.key} at ${a.position}: ${describe(byPosition.get(a.position))}`)}`,
    ),
    check(
      'every idempotency key appears in exactly one commit (whole stream read)',
      twice.length === 0,
      twice.length === 0
        ? `${byKey.size} keys in ${commits.length} commits, none twice`
        : `${twice.length} keys in more than one commit: ${firstOf(twice, 5, ([k, cs]) => `${k} at ${cs.map((c) => c.position).join(', ')}`)}`,
    ),
    check(
      'no command the API refused is in the log',
      refusedButDone.length === 0,
      refusedButDone.length === 0
        ? `${load.rejections.length} refused, none of them in the log`
        : `${refusedButDone.length} refused to the client yet committed: ${firstOf(
            refusedButDone,
            5,
            (r) =>
              `${r.type} key ${r.key} answered ${r.status} ${r.code} on attempt ${r.attempts}, committed at ${byKey
                .get(r.key)
                ?.map((c) => c.position)
                .join(', ')}`,
          )}`,
    ),
    check(
      'every command of the load was finally acknowledged (retrying with its key)',
      load.rejections.length === 0 && load.unresolved.length === 0,
      `${acks.length} acknowledged, ${load.rejections.length} refused${load.rejections.length ? ` (${firstOf(load.rejections, 5, (r) => `${r.type} ${r.status} ${r.code} after ${r.attempts} attempts`)})` : ''}, ${load.unresolved.length} unanswered; HTTP answers seen: ${statuses.join(', ')}`,
    ),
  ];
}

const describe = (c: StoredCommit | undefined) =>
  c ? `holds ${c.commandType} of ${c.aggregateId} with key ${c.idempotencyKey ?? 'none'}` : 'no commit there';
