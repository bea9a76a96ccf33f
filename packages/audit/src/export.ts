import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { type AuditIo, createProgress } from './progress.js';
import { type AuditItem, assertRawStore, type LogRange, type LogSourceDeps, readLogCommits } from './source.js';

export interface ExportOptions extends LogRange {
  /** Only this aggregate's commits (within the range, if one is given). */
  aggregate?: { aggregateType: string; aggregateId: string };
  /** Commits per read from the live log. Default 1000. */
  pageSize?: number;
}

export interface ExportSummary {
  commits: number;
  /** Stored messages that were not JSON, written as `{position, unparseable, raw}`. */
  unparseable: number;
  firstPosition: number | null;
  lastPosition: number | null;
}

/** One NDJSON line: the stored commit with its position, or a marker for an undecodable message. */
export function exportLine(item: AuditItem): string {
  if (item.kind === 'commit') return `${JSON.stringify(item.commit)}\n`;
  return `${JSON.stringify({ position: item.position, unparseable: item.reason, raw: item.raw })}\n`;
}

async function* aggregateItems(deps: LogSourceDeps, opts: ExportOptions): AsyncGenerator<AuditItem> {
  const { aggregateType, aggregateId } = opts.aggregate!;
  assertRawStore(deps.store);
  const commits = await deps.store.readAggregate(aggregateType, aggregateId, {
    after: Math.max(0, (opts.from ?? 1) - 1),
    ...(opts.to === undefined ? {} : { until: opts.to }),
  });
  for (const commit of commits) yield { kind: 'commit', commit };
}

/**
 * Writes the log, a range of it, or one aggregate as NDJSON: each line a commit exactly
 * as stored, plus its position. `lightdom audit verify --file` checks such a file
 * offline, recomputing every hash from the canonical encoding.
 */
export async function exportLog(
  deps: LogSourceDeps,
  opts: ExportOptions,
  out: Writable,
  io: AuditIo,
): Promise<ExportSummary> {
  const items = opts.aggregate
    ? aggregateItems(deps, opts)
    : readLogCommits(deps, {
        ...(opts.from === undefined ? {} : { from: opts.from }),
        ...(opts.to === undefined ? {} : { to: opts.to }),
        ...(opts.pageSize ? { pageSize: opts.pageSize } : {}),
      });
  const progress = createProgress(io, { label: 'export', head: opts.aggregate ? null : (opts.to ?? null) });
  const summary: ExportSummary = { commits: 0, unparseable: 0, firstPosition: null, lastPosition: null };
  try {
    for await (const item of items) {
      const position = item.kind === 'commit' ? item.commit.position : item.position;
      if (item.kind === 'commit') summary.commits++;
      else summary.unparseable++;
      summary.firstPosition ??= position;
      summary.lastPosition = position;
      if (!out.write(exportLine(item))) await once(out, 'drain');
      progress.update(summary.commits + summary.unparseable, position);
    }
  } finally {
    progress.done();
  }
  return summary;
}
