import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredCommit } from '@lightdom/domain';
import { type CheckResult, check, firstOf } from '../checks/check.js';

/**
 * What the workers say they appended (the executor logs `command issued` with the position
 * JetStream acknowledged) must be in the log at that position: an acknowledged write that
 * is not there was lost by the cluster.
 */
export function issuedCheck(logDir: string, commits: StoredCommit[]): CheckResult {
  const wrong: string[] = [];
  let seen = 0;
  for (const file of readdirSync(logDir).filter((f) => /^(executor|ai-worker)-\d+\.log$/.test(f))) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (!line.includes('"command issued"')) continue;
      let entry: { runId?: string; command?: string; position?: number; events?: string[]; time?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      seen++;
      const c = commits[Number(entry.position) - 1];
      const types = c?.events.map((e) => e.type).join(',');
      if (!c || c.aggregateId !== entry.runId || types !== entry.events?.join(',')) {
        wrong.push(
          `${file} ${entry.time}: ${entry.command} of ${entry.runId} acknowledged at ${entry.position}, where the log holds ${c ? `${c.commandType} of ${c.aggregateId} (${c.actor})` : 'nothing'}`,
        );
      }
    }
  }
  return check(
    'every command a worker was told it appended is in the log at that position',
    wrong.length === 0 && seen > 0,
    wrong.length === 0 ? `${seen} issued commands found` : `${wrong.length} of ${seen}: ${firstOf(wrong, 4, (w) => w)}`,
  );
}

/**
 * How often the executors' safety nets fired (docs/executor.md, "A run requested but never
 * started"): reads of a run that lagged the commit in hand, and runs and AI tasks the
 * sweeps (executor, AI worker) acted on because no delivery did. Printed, not judged: a rescue is the net working, but a
 * run that needed one says the cluster lost a delivery.
 */
export function executorRescues(logDir: string): { staleReads: number; sweeps: string[] } {
  let staleReads = 0;
  const sweeps: string[] = [];
  for (const file of readdirSync(logDir).filter((f) => /^(executor|ai-worker)-\d+\.log$/.test(f))) {
    for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
      if (line.includes('"run read is behind the commit in hand; reading again"')) staleReads++;
      else if (line.includes('issued it from the sweep')) {
        const id = /"id":"([^"]+)"/.exec(line)?.[1];
        sweeps.push(`${file}: ${id ?? '?'}`);
      }
    }
  }
  return { staleReads, sweeps };
}
