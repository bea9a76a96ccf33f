import { type AuditIo, createProgress } from './progress.js';
import { type AuditItem, type LogRange, type LogSourceDeps, readLogCommits, readNdjsonCommits } from './source.js';
import { type ChainSummary, createChainVerifier } from './verifier.js';

export type VerifySource = ({ kind: 'log' } & LogSourceDeps) | { kind: 'file'; path: string };

export interface VerifyOptions extends LogRange {
  source: VerifySource;
  /** Commits per read from the live log. Default 1000. */
  pageSize?: number;
}

export interface VerifyReport extends ChainSummary {
  ok: boolean;
  /** `stream EVENTS` or `file export.ndjson`. */
  source: string;
  from: number | null;
  to: number | null;
  durationMs: number;
  /** Commits checked per second. */
  rate: number;
}

/**
 * Replays the live log or an NDJSON export through the chain verifier, with progress
 * on stderr. Returns the summary; printing it is the caller's business.
 *
 * @example
 * const report = await runVerify({ source: { kind: 'file', path: 'log.ndjson' } }, io);
 * process.exitCode = report.ok ? 0 : 1;
 */
export async function runVerify(opts: VerifyOptions, io: AuditIo): Promise<VerifyReport> {
  const now = io.now ?? (() => performance.now());
  const started = now();
  const { source } = opts;
  let items: AsyncIterable<AuditItem>;
  let label: string;
  let to = opts.to ?? null;
  let verifier: ReturnType<typeof createChainVerifier>;
  if (source.kind === 'log') {
    // Fix the end at the head as of now, so a busy log does not keep the run going.
    const head = await source.store.headPosition();
    to = Math.min(opts.to ?? head, head);
    label = `stream ${source.store.options.stream}`;
    const from = opts.from ?? 1;
    // The live log denies deletes: every position from `from` to `to` must be there.
    verifier = createChainVerifier({ rangeStart: from, contiguousFrom: from });
    items = readLogCommits(source, { from, to, ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) });
  } else {
    label = `file ${source.path}`;
    // An export of one aggregate is sparse; one of the log or a range is not.
    verifier = createChainVerifier({ rangeStart: opts.from ?? 'first', contiguousFrom: 'auto' });
    items = readNdjsonCommits(source.path, opts);
  }

  const progress = createProgress(io, { label: 'verify', head: to });
  let seen = 0;
  try {
    for await (const item of items) {
      seen++;
      const where = item.line === undefined ? {} : { line: item.line };
      if (item.kind === 'commit') {
        verifier.check(item.commit, where);
        progress.update(seen, item.commit.position ?? null);
      } else {
        verifier.unparseable({ position: item.position, ...where }, item.reason);
        progress.update(seen, item.position);
      }
    }
  } finally {
    progress.done();
  }
  if (source.kind === 'log' && to !== null && to >= (opts.from ?? 1)) verifier.expectEnd(to);
  const summary = verifier.summary();
  const durationMs = now() - started;
  return {
    ...summary,
    ok: summary.violations === 0,
    source: label,
    from: opts.from ?? summary.firstPosition,
    to: to ?? summary.lastPosition,
    durationMs,
    rate: durationMs > 0 ? Math.round((summary.commits / durationMs) * 1000) : summary.commits,
  };
}

/** The human-readable summary printed by `lightdom audit verify`. */
export function formatVerifyReport(r: VerifyReport, maxListed = 10): string {
  const kinds = Object.entries(r.violationsByKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const positions = r.firstPosition === null ? 'none' : `${r.firstPosition}..${r.lastPosition}`;
  const lines = [
    `audit verify: ${r.source}${r.from !== null || r.to !== null ? `, range ${r.from ?? 1}..${r.to ?? 'end'}` : ''}`,
    `  commits     ${r.commits} (${r.events} events)`,
    `  aggregates  ${r.aggregates}${r.anchors > 0 ? ` (${r.anchors} anchored at the range start, trusted)` : ''}`,
    `  positions   ${positions}`,
    `  duration    ${(r.durationMs / 1000).toFixed(2)} s`,
    `  rate        ${r.rate} commits/s`,
    `  violations  ${r.violations}${kinds ? ` (${kinds})` : ''}`,
  ];
  if (r.firstViolation) {
    const v = r.firstViolation;
    lines.push(
      `  first broken link: position ${v.position ?? '?'}${v.line === undefined ? '' : ` (line ${v.line})`}, ` +
        `aggregate ${v.aggregateType ?? '?'}/${v.aggregateId ?? '?'}, ${v.kind}`,
    );
    lines.push(`    ${v.message}`);
    const rest = r.recorded.filter((x) => x !== v).slice(0, maxListed - 1);
    if (rest.length > 0) {
      lines.push('  further violations:');
      for (const x of rest) lines.push(`    ${x.message}`);
      if (r.violations > rest.length + 1) lines.push(`    … ${r.violations - rest.length - 1} more`);
    }
  }
  lines.push(r.ok ? 'result: OK, every chain is intact' : 'result: FAILED, the log does not verify');
  return `${lines.join('\n')}\n`;
}
