import type { StoredCommit } from '@lightdom/domain';
import { hashCommit } from '@lightdom/eventstore';
import { z } from 'zod';

/**
 * What a violation says is wrong:
 * - `hash-mismatch`: the commit's bytes do not hash to its `hash` (its content changed).
 * - `broken-link`: `prevHash` is not the hash of the aggregate's previous commit.
 * - `position-link`: `previousPosition` is not the position of the aggregate's previous
 *   commit (or points at a commit inside the checked range that was never seen).
 * - `version-gap`: `version` is not the previous version plus the commit's event count.
 * - `position-order`: positions do not strictly increase.
 * - `missing-position`: a position is absent where the log (or export) must be gapless.
 * - `unparseable`: the message or line is not JSON, or not shaped like a commit.
 */
export type ViolationKind =
  | 'hash-mismatch'
  | 'broken-link'
  | 'position-link'
  | 'version-gap'
  | 'position-order'
  | 'missing-position'
  | 'unparseable';

export interface Violation {
  kind: ViolationKind;
  /** Position of the offending commit; null when an unparseable line names none. */
  position: number | null;
  aggregateType: string | null;
  aggregateId: string | null;
  expected: string | number | null;
  actual: string | number | null;
  /** Line of an NDJSON file, counted from 1, when the commit came from one. */
  line?: number;
  message: string;
}

export interface ChainVerifierOptions {
  /**
   * First position of the checked range. An aggregate whose first commit in the range
   * links to a position before it is trusted as an anchor: its earlier history is
   * outside the range, so only the commit's own hash can be checked. `'first'` takes
   * the position of the first commit seen (a file whose range is not known). Default 1
   * (no anchors: every aggregate must start with a genesis commit).
   */
  rangeStart?: number | 'first';
  /**
   * Positions must follow each other without a hole (the live log, which denies
   * deletes), starting at this position. `'auto'` records holes and counts them as
   * violations only if the run saw more than one aggregate (an export of one aggregate
   * is sparse by nature). Default false.
   */
  contiguousFrom?: number | 'auto' | false;
}

export interface ChainSummary {
  commits: number;
  events: number;
  aggregates: number;
  /** Aggregates whose first commit in the range was trusted as an anchor. */
  anchors: number;
  firstPosition: number | null;
  lastPosition: number | null;
  violations: number;
  violationsByKind: Partial<Record<ViolationKind, number>>;
  /** The first violation met, in log (or file) order. */
  firstViolation: Violation | null;
  /** The first violations found, at most `maxRecorded` (100). */
  recorded: Violation[];
}

export interface ChainVerifier {
  /** Checks the next commit of the log, in log order. Returns its first violation. */
  check(commit: StoredCommit, where?: { line?: number }): Violation | null;
  /** Records a message or line that could not be decoded at all. */
  unparseable(where: { position?: number | null; line?: number }, reason: string): Violation;
  /**
   * Declares that the run had to reach `position` (the head of a gapless log). Records
   * a `missing-position` violation if it stopped short, so a reader that silently saw
   * nothing (a wrong subject filter) cannot pass as a clean log.
   */
  expectEnd(position: number): Violation | null;
  summary(): ChainSummary;
}

const maxRecorded = 100;

/** Only what the checks read; every other field is kept and hashed as stored. */
const commitShape = z
  .object({
    aggregateType: z.string(),
    aggregateId: z.string(),
    version: z.number().int().nonnegative(),
    previousPosition: z.number().int().nonnegative(),
    events: z.array(z.object({ id: z.string(), type: z.string(), schemaVersion: z.number() }).passthrough()),
    prevHash: z.string().nullable(),
    hash: z.string(),
    position: z.number().int().positive(),
  })
  .passthrough();

interface ChainHead {
  position: number;
  hash: string;
  version: number;
}

const short = (v: string | number | null) => (typeof v === 'string' && v.length > 16 ? `${v.slice(0, 16)}…` : v);

function describe(v: Omit<Violation, 'message'>): string {
  const where = v.position === null ? `line ${v.line}` : `position ${v.position}`;
  const what = v.aggregateType === null ? '' : ` (${v.aggregateType}/${v.aggregateId})`;
  return `${v.kind} at ${where}${what}: expected ${short(v.expected)}, found ${short(v.actual)}`;
}

/**
 * A streaming checker of every aggregate's hash chain. Feed it the log's commits in
 * order; it remembers only the last {position, hash, version} of each aggregate, so
 * memory grows with the number of aggregates, not of commits. It never stops at a
 * violation: it counts them all and keeps the first.
 *
 * @example
 * const verifier = createChainVerifier();
 * for (const c of commits) verifier.check(c);
 * const { violations, firstViolation } = verifier.summary();
 */
export function createChainVerifier(options: ChainVerifierOptions = {}): ChainVerifier {
  let rangeStart = options.rangeStart === 'first' ? null : (options.rangeStart ?? 1);
  const contiguous = options.contiguousFrom ?? false;
  const heads = new Map<string, ChainHead>();
  const byKind: Partial<Record<ViolationKind, number>> = {};
  const recorded: Violation[] = [];
  const holes: Violation[] = [];
  let holeCount = 0;
  let commits = 0;
  let events = 0;
  let anchors = 0;
  let violations = 0;
  let first: Violation | null = null;
  let firstPosition: number | null = null;
  let lastPosition: number | null = null;

  function record(v: Violation): Violation {
    violations++;
    byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
    if (recorded.length < maxRecorded) recorded.push(v);
    first ??= v;
    return v;
  }

  function violation(fields: Omit<Violation, 'message'>): Violation {
    return { ...fields, message: describe(fields) };
  }

  function checkPosition(position: number, line: number | undefined): Violation | null {
    const lineField = line === undefined ? {} : { line };
    const blank = { aggregateType: null, aggregateId: null, ...lineField };
    if (lastPosition !== null && position <= lastPosition) {
      return violation({ kind: 'position-order', position, expected: lastPosition + 1, actual: position, ...blank });
    }
    const expectedNext =
      lastPosition === null ? (typeof contiguous === 'number' ? contiguous : null) : lastPosition + 1;
    if (contiguous !== false && expectedNext !== null && position !== expectedNext) {
      const hole = violation({
        kind: 'missing-position',
        position: expectedNext,
        expected: expectedNext,
        actual: position,
        ...blank,
      });
      if (contiguous !== 'auto') return hole;
      holeCount++;
      if (holes.length < maxRecorded) holes.push(hole);
    }
    return null;
  }

  function unparseable(where: { position?: number | null; line?: number }, reason: string): Violation {
    const position = where.position ?? null;
    const at = position === null ? `line ${where.line}` : `position ${position}`;
    if (position !== null) {
      // It still occupies its position: the log around it has no hole.
      const positionProblem = checkPosition(position, where.line);
      if (positionProblem) record(positionProblem);
      lastPosition = Math.max(lastPosition ?? 0, position);
    }
    return record({
      kind: 'unparseable',
      position,
      aggregateType: null,
      aggregateId: null,
      expected: 'a commit',
      actual: reason,
      ...(where.line === undefined ? {} : { line: where.line }),
      message: `unparseable at ${at}: ${reason}`,
    });
  }

  return {
    check(raw, where = {}) {
      const found: Violation[] = [];
      const line = where.line === undefined ? {} : { line: where.line };
      const shape = commitShape.safeParse(raw);
      if (!shape.success) {
        const issue = shape.error.issues[0];
        const position = typeof raw?.position === 'number' ? raw.position : null;
        return unparseable({ position, ...line }, `not a commit: ${issue?.path.join('.')} ${issue?.message}`);
      }
      const c = shape.data;
      commits++;
      events += c.events.length;
      firstPosition ??= c.position;
      rangeStart ??= c.position;
      const positionProblem = checkPosition(c.position, where.line);
      if (positionProblem) found.push(positionProblem);
      lastPosition = Math.max(lastPosition ?? 0, c.position);

      const ids = { position: c.position, aggregateType: c.aggregateType, aggregateId: c.aggregateId, ...line };
      // Hash the commit exactly as it came in, not the parsed shape: unknown fields count.
      const recomputed = hashCommit(raw);
      if (recomputed !== c.hash) {
        found.push(violation({ kind: 'hash-mismatch', ...ids, expected: recomputed, actual: c.hash }));
      }

      const key = `${c.aggregateType}\u0000${c.aggregateId}`;
      const head = heads.get(key);
      if (head) {
        if (c.prevHash !== head.hash) {
          found.push(violation({ kind: 'broken-link', ...ids, expected: head.hash, actual: c.prevHash }));
        }
        if (c.previousPosition !== head.position) {
          found.push(violation({ kind: 'position-link', ...ids, expected: head.position, actual: c.previousPosition }));
        }
        if (c.version !== head.version + c.events.length) {
          found.push(
            violation({ kind: 'version-gap', ...ids, expected: head.version + c.events.length, actual: c.version }),
          );
        }
      } else if (c.previousPosition === 0) {
        if (c.prevHash !== null) {
          found.push(violation({ kind: 'broken-link', ...ids, expected: null, actual: c.prevHash }));
        }
        if (c.version !== c.events.length) {
          found.push(violation({ kind: 'version-gap', ...ids, expected: c.events.length, actual: c.version }));
        }
      } else if (c.previousPosition < rangeStart) {
        anchors++;
      } else {
        // The previous commit lies inside the range but was never seen: it is missing,
        // or this commit points somewhere it should not.
        found.push(violation({ kind: 'position-link', ...ids, expected: 0, actual: c.previousPosition }));
      }
      // Link the next commit to the hash this one claims, so one altered commit is
      // reported once (as a hash mismatch) instead of twice.
      heads.set(key, { position: c.position, hash: c.hash, version: c.version });

      for (const v of found) record(v);
      return found[0] ?? null;
    },

    unparseable,

    expectEnd(position) {
      const reached = lastPosition ?? (typeof contiguous === 'number' ? contiguous - 1 : 0);
      if (reached >= position) return null;
      return record(
        violation({
          kind: 'missing-position',
          position: reached + 1,
          aggregateType: null,
          aggregateId: null,
          expected: position,
          actual: lastPosition,
        }),
      );
    },

    summary() {
      let total = violations;
      let firstOverall: Violation | null = first;
      const kinds = { ...byKind };
      const all = [...recorded];
      if (contiguous === 'auto' && heads.size > 1 && holeCount > 0) {
        total += holeCount;
        kinds['missing-position'] = (kinds['missing-position'] ?? 0) + holeCount;
        all.push(...holes.slice(0, Math.max(0, maxRecorded - all.length)));
        all.sort((a, b) => (a.position ?? Number.POSITIVE_INFINITY) - (b.position ?? Number.POSITIVE_INFINITY));
        const hole = holes[0];
        if (hole && (firstOverall?.position ?? Number.POSITIVE_INFINITY) > (hole.position ?? 0)) firstOverall = hole;
      }
      return {
        commits,
        events,
        aggregates: heads.size,
        anchors,
        firstPosition,
        lastPosition,
        violations: total,
        violationsByKind: kinds,
        firstViolation: firstOverall,
        recorded: all,
      };
    },
  };
}
