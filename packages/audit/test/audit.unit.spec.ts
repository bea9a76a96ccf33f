import type { StoredCommit } from '@lightdom/domain';
import { hashCommit } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../src/cli/args.js';
import { createChainVerifier } from '../src/verifier.js';

/** Builds a well-formed commit that follows `prev` (or starts a chain) at `position`. */
function commit(position: number, aggregateId: string, prev: StoredCommit | null, events = 1): StoredCommit {
  const body = {
    commitId: `c${position}`,
    aggregateType: 'campaign',
    aggregateId,
    version: (prev?.version ?? 0) + events,
    previousPosition: prev?.position ?? 0,
    correlationId: 'corr',
    causationId: 'cause',
    actor: 'tester',
    timestamp: '2025-01-01T00:00:00.000Z',
    commandType: 'RenameCampaign',
    commandFingerprint: 'f',
    events: Array.from({ length: events }, (_, i) => ({
      id: `e${position}-${i}`,
      type: 'CampaignRenamed',
      schemaVersion: 1,
      data: { name: `n${position}` },
    })),
    prevHash: prev?.hash ?? null,
  };
  return { ...body, hash: hashCommit(body), position };
}

/** a1 a2 b1 a3 b2: two interleaved chains. */
function log(): StoredCommit[] {
  const a1 = commit(1, 'a', null, 2);
  const a2 = commit(2, 'a', a1);
  const b1 = commit(3, 'b', null);
  const a3 = commit(4, 'a', a2, 3);
  const b2 = commit(5, 'b', b1);
  return [a1, a2, b1, a3, b2];
}

const rehash = (c: StoredCommit): StoredCommit => ({ ...c, hash: hashCommit(c) });

describe('chain verifier', () => {
  it('passes an intact log and counts commits, events and aggregates', () => {
    const v = createChainVerifier({ contiguousFrom: 1 });
    for (const c of log()) expect(v.check(c)).toBeNull();
    expect(v.expectEnd(5)).toBeNull();
    expect(v.summary()).toMatchObject({
      commits: 5,
      events: 8,
      aggregates: 2,
      anchors: 0,
      firstPosition: 1,
      lastPosition: 5,
      violations: 0,
      firstViolation: null,
    });
  });

  it('reports a changed byte as a hash mismatch at its position, once', () => {
    const commits = log();
    const c = commits[1]!;
    commits[1] = { ...c, events: [{ ...c.events[0]!, data: { name: 'n3' } }] };
    const v = createChainVerifier();
    for (const x of commits) v.check(x);
    const s = v.summary();
    expect(s.violations).toBe(1);
    expect(s.firstViolation).toMatchObject({ kind: 'hash-mismatch', position: 2, aggregateId: 'a', actual: c.hash });
  });

  it('reports a self-consistent commit with a wrong previous hash as a broken link', () => {
    const commits = log();
    commits[3] = rehash({ ...commits[3]!, prevHash: 'f'.repeat(64) });
    const v = createChainVerifier();
    const found = commits.map((c) => v.check(c));
    expect(found[3]).toMatchObject({ kind: 'broken-link', position: 4, aggregateId: 'a', expected: commits[1]!.hash });
    expect(v.summary().violations).toBe(1);
  });

  it('reports wrong previous positions, version gaps and a first commit that claims a predecessor', () => {
    const commits = log();
    commits[3] = rehash({ ...commits[3]!, previousPosition: 1 });
    commits[4] = rehash({ ...commits[4]!, version: 7 });
    const v = createChainVerifier();
    for (const c of commits) v.check(c);
    expect(v.summary().violationsByKind).toEqual({ 'position-link': 1, 'version-gap': 1 });

    const orphan = rehash({ ...commit(1, 'c', null), previousPosition: 1 });
    expect(createChainVerifier().check(orphan)).toMatchObject({ kind: 'position-link', expected: 0, actual: 1 });
    const notGenesis = rehash({ ...commit(1, 'c', null), prevHash: 'a'.repeat(64) });
    expect(createChainVerifier().check(notGenesis)).toMatchObject({ kind: 'broken-link', expected: null });
  });

  it('trusts the first commit of an aggregate as an anchor only when its predecessor is before the range', () => {
    const commits = log().slice(3); // a3 (prev at 2), b2 (prev at 3)
    const v = createChainVerifier({ rangeStart: 4 });
    for (const c of commits) expect(v.check(c)).toBeNull();
    expect(v.summary()).toMatchObject({ anchors: 2, violations: 0 });
    // The same commits checked as if the range began at 3: b2's predecessor should have been seen.
    const strict = createChainVerifier({ rangeStart: 3 });
    for (const c of commits) strict.check(c);
    expect(strict.summary().firstViolation).toMatchObject({ kind: 'position-link', position: 5, aggregateId: 'b' });
  });

  it('reports holes in a gapless log, out-of-order positions and a run that stops short', () => {
    const commits = log();
    const v = createChainVerifier({ contiguousFrom: 1 });
    for (const c of [commits[0]!, commits[1]!, commits[3]!]) v.check(c);
    v.expectEnd(5);
    expect(v.summary().recorded.map((x) => [x.kind, x.position])).toEqual([
      ['missing-position', 3],
      ['missing-position', 5],
    ]);

    const backwards = createChainVerifier();
    backwards.check(commits[1]!);
    expect(backwards.check(commits[0]!)).toMatchObject({ kind: 'position-order', position: 1 });
  });

  it("in 'auto' mode counts holes only when more than one aggregate was seen", () => {
    const commits = log();
    const oneAggregate = createChainVerifier({ contiguousFrom: 'auto' });
    for (const c of [commits[0]!, commits[1]!, commits[3]!]) oneAggregate.check(c);
    expect(oneAggregate.summary().violations).toBe(0);
    const mixed = createChainVerifier({ contiguousFrom: 'auto' });
    for (const c of [commits[0]!, commits[1]!, commits[3]!, commits[4]!]) mixed.check(c);
    expect(mixed.summary()).toMatchObject({ firstViolation: { kind: 'missing-position', position: 3 } });
  });

  it('reports malformed commits and lines as unparseable and keeps going', () => {
    const v = createChainVerifier();
    const [a1, a2] = log();
    v.check(a1!);
    expect(v.check({ hello: 'world' } as unknown as StoredCommit, { line: 2 })).toMatchObject({
      kind: 'unparseable',
      position: null,
      line: 2,
    });
    v.unparseable({ line: 3 }, 'not JSON');
    v.check(a2!);
    expect(v.summary()).toMatchObject({ commits: 2, violations: 2, firstViolation: { kind: 'unparseable', line: 2 } });
  });
});

describe('lightdom arguments', () => {
  it('parses verify and export', () => {
    expect(parseCliArgs(['audit', 'verify', '--from', '3', '--to', '9', '--json'])).toEqual({
      command: 'verify',
      from: 3,
      to: 9,
      json: true,
      chain: false,
    });
    expect(parseCliArgs(['audit', 'verify', '--chain'])).toEqual({ command: 'verify', json: false, chain: true });
    expect(parseCliArgs(['audit', 'prove', '12'])).toEqual({ command: 'prove', position: 12 });
    expect(parseCliArgs(['audit', 'check-proof', 'p.json', '--chain'])).toEqual({
      command: 'check-proof',
      file: 'p.json',
      chain: true,
    });
    expect(() => parseCliArgs(['audit', 'prove', 'x'])).toThrow(/position/);
    expect(() => parseCliArgs(['audit', 'prove'])).toThrow(/needs a position/);
    expect(() => parseCliArgs(['audit', 'export', '--chain'])).toThrow(/--chain belongs to audit verify/);
    expect(parseCliArgs(['audit', 'export', '--aggregate', 'campaign:abc-1', '--out', 'x.ndjson'])).toEqual({
      command: 'export',
      aggregate: { aggregateType: 'campaign', aggregateId: 'abc-1' },
      out: 'x.ndjson',
    });
    expect(parseCliArgs(['--help'])).toEqual({ command: 'help' });
  });

  it('parses projections skip with its reason and actor', () => {
    expect(parseCliArgs(['projections', 'skip', 'campaigns', '42', '--reason', ' forged budget '])).toEqual({
      command: 'skip',
      projection: 'campaigns',
      position: 42,
      reason: 'forged budget',
    });
    expect(
      parseCliArgs(['projections', 'skip', 'campaigns', '7', '--reason', 'r', '--actor', 'ops:ana']),
    ).toMatchObject({ actor: 'ops:ana' });
  });

  it.each([
    [[]],
    [['audit', 'verify', '--from', '0']],
    [['audit', 'verify', '--from', '5', '--to', '4']],
    [['audit', 'verify', '--out', 'x']],
    [['audit', 'export', '--file', 'x']],
    [['audit', 'export', '--aggregate', 'nocolon']],
    [['audit', 'frobnicate']],
    [['audit', 'verify', '--bogus']],
    [['projections', 'skip', 'campaigns', '42']],
    [['projections', 'skip', 'campaigns', '42', '--reason', '  ']],
    [['projections', 'skip', 'campaigns', '0', '--reason', 'r']],
    [['projections', 'skip', 'camp.aigns', '4', '--reason', 'r']],
    [['projections', 'skip', 'campaigns', '--reason', 'r']],
    [['projections', 'skip', 'campaigns', '4', '5', '--reason', 'r']],
    [['projections', 'skip', 'campaigns', '4', '--reason', 'r', '--json']],
    [['audit', 'verify', '--reason', 'r']],
  ])('rejects %j', (argv) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
  });
});
