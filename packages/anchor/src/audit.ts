import type { StoredCommit } from '@lightdom/domain';
import { type EventStore, hashCommit } from '@lightdom/eventstore';
import type { AnchorClient, OnChainCheckpoint } from './chain.js';
import { readRange, readRecordedCheckpoints } from './checkpointer.js';
import { inclusionPath, merkleRoot, type ProofStep, rootFromPath } from './merkle.js';

export const proofFormat = 'lightdom-audit-proof/1';

/** An inclusion proof for one commit (docs/audit.md, "Proof format"). */
export interface InclusionProof {
  format: typeof proofFormat;
  position: number;
  /** The commit exactly as stored, with its position. */
  commit: StoredCommit;
  /** sha256 of the commit's canonical JSON (without hash and position), as `hash` holds it. */
  commitHash: string;
  /** position - checkpoint.fromPosition */
  leafIndex: number;
  checkpoint: { fromPosition: number; toPosition: number; merkleRoot: string };
  path: ProofStep[];
  chain: {
    chainId: number;
    contractAddress: string;
    checkpointIndex: number;
    transactionHash: string | null;
    blockNumber: number | null;
  } | null;
}

/** One finding of a chain check; `range` and `position` name where. */
export interface ChainProblem {
  range: string;
  position: number | null;
  message: string;
}

export interface ChainCheckReport {
  ok: boolean;
  checkpoints: number;
  anchored: number;
  pending: number;
  onChain: number;
  problems: ChainProblem[];
}

const rangeOf = (c: { fromPosition: number; toPosition: number }) => `${c.fromPosition}..${c.toPosition}`;

/**
 * `audit verify --chain`: every checkpoint the log records is recomputed from the log's
 * commits and compared with its recorded root and with the contract's checkpoint of the
 * same index; the contract holding a range the log does not record is a problem too.
 */
export async function verifyLogAgainstChain(store: EventStore, chain: AnchorClient): Promise<ChainCheckReport> {
  const recorded = await readRecordedCheckpoints(store);
  const onChain = await chain.checkpoints();
  const problems: ChainProblem[] = [];
  let anchored = 0;
  for (const [i, cp] of recorded.entries()) {
    const range = rangeOf(cp);
    let commits: StoredCommit[];
    try {
      commits = await readRange(store, cp.fromPosition, cp.toPosition);
    } catch (err) {
      problems.push({ range, position: null, message: (err as Error).message });
      continue;
    }
    const root = merkleRoot(commits.map((c) => hashCommit(c)));
    if (root !== cp.merkleRoot) {
      problems.push({
        range,
        position: null,
        message: `the log's commits give root ${root}, the checkpoint records ${cp.merkleRoot}`,
      });
    }
    const c = onChain[i];
    if (!c) {
      if (cp.anchored)
        problems.push({ range, position: null, message: 'recorded as anchored, but the contract does not hold it' });
      continue;
    }
    if (c.fromPosition !== cp.fromPosition || c.toPosition !== cp.toPosition || c.merkleRoot !== root) {
      problems.push({
        range,
        position: null,
        message: `the contract's checkpoint ${i} is ${rangeOf(c)} with root ${c.merkleRoot}; the log gives ${root}`,
      });
    }
    if (cp.anchored) anchored++;
  }
  for (const c of onChain.slice(recorded.length)) {
    problems.push({
      range: rangeOf(c),
      position: null,
      message: `the contract holds checkpoint ${c.index}, which the log does not record`,
    });
  }
  return {
    ok: problems.length === 0,
    checkpoints: recorded.length,
    anchored,
    pending: recorded.length - Math.min(recorded.length, onChain.length),
    onChain: onChain.length,
    problems,
  };
}

/**
 * `audit verify --file` with a chain: each anchored range that the export holds entirely
 * is recomputed from the export's commits (hashes recomputed from their bytes, not taken
 * from their `hash` field). A range whose root differs names the positions whose bytes
 * no longer match their hash.
 */
export function checkExportAgainstRoots(
  commits: Map<number, StoredCommit>,
  roots: readonly Pick<OnChainCheckpoint, 'fromPosition' | 'toPosition' | 'merkleRoot'>[],
): { checked: number; skipped: number; problems: ChainProblem[] } {
  const problems: ChainProblem[] = [];
  let checked = 0;
  let skipped = 0;
  for (const cp of roots) {
    const range = rangeOf(cp);
    const hashes: string[] = [];
    const changed: number[] = [];
    let complete = true;
    for (let p = cp.fromPosition; p <= cp.toPosition; p++) {
      const c = commits.get(p);
      if (!c) {
        complete = false;
        break;
      }
      const h = hashCommit(c);
      if (h !== c.hash) changed.push(p);
      hashes.push(h);
    }
    if (!complete) {
      skipped++;
      continue;
    }
    checked++;
    const root = merkleRoot(hashes);
    if (root === cp.merkleRoot) continue;
    if (changed.length === 0) {
      problems.push({
        range,
        position: null,
        message: `range ${range} gives root ${root}, anchored ${cp.merkleRoot}: a commit and its hash were both changed`,
      });
    }
    for (const p of changed) {
      problems.push({
        range,
        position: p,
        message: `range ${range} does not match its anchored root: the commit at position ${p} was changed`,
      });
    }
  }
  return { checked, skipped, problems };
}

/** `audit prove <position>`: the proof of one commit from the log and its checkpoint. */
export async function buildProof(store: EventStore, position: number, chain?: AnchorClient): Promise<InclusionProof> {
  const recorded = await readRecordedCheckpoints(store);
  const index = recorded.findIndex((c) => c.fromPosition <= position && position <= c.toPosition);
  const cp = recorded[index];
  if (!cp) throw new Error(`position ${position} is in no recorded checkpoint yet`);
  const commits = await readRange(store, cp.fromPosition, cp.toPosition);
  const hashes = commits.map((c) => c.hash);
  const leafIndex = position - cp.fromPosition;
  return {
    format: proofFormat,
    position,
    commit: commits[leafIndex]!,
    commitHash: hashes[leafIndex]!,
    leafIndex,
    checkpoint: { fromPosition: cp.fromPosition, toPosition: cp.toPosition, merkleRoot: cp.merkleRoot },
    path: inclusionPath(hashes, leafIndex),
    chain: chain
      ? {
          chainId: await chain.chainId(),
          contractAddress: chain.contractAddress,
          checkpointIndex: index,
          transactionHash: cp.anchored?.transactionHash ?? null,
          blockNumber: cp.anchored?.blockNumber ?? null,
        }
      : null,
  };
}

/**
 * `audit check-proof`: offline, the commit hashes to `commitHash` and the path leads to the
 * checkpoint's root; with a chain, the contract holds that root for that range.
 */
export async function checkProof(input: unknown, chain?: AnchorClient): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  const p = input as Partial<InclusionProof> | null;
  if (!p || typeof p !== 'object' || p.format !== proofFormat)
    return { ok: false, problems: [`format must be ${proofFormat}`] };
  if (!p.commit || typeof p.commit !== 'object') return { ok: false, problems: ['commit is missing'] };
  if (!p.checkpoint || !Array.isArray(p.path)) return { ok: false, problems: ['checkpoint and path are required'] };
  if (p.path.length > 64) return { ok: false, problems: ['path is longer than any tree'] };
  const recomputed = hashCommit(p.commit);
  if (recomputed !== p.commitHash) problems.push(`commit hashes to ${recomputed}, not commitHash ${p.commitHash}`);
  if (p.commit.position !== p.position) problems.push('commit.position differs from position');
  if (p.leafIndex !== (p.position ?? 0) - p.checkpoint.fromPosition)
    problems.push('leafIndex is not position - fromPosition');
  try {
    const root = rootFromPath(recomputed, p.path);
    if (root !== p.checkpoint.merkleRoot)
      problems.push(`the path leads to ${root}, not the checkpoint's root ${p.checkpoint.merkleRoot}`);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (chain) {
    const c = await chain.covering(p.position ?? 0);
    if (!c) problems.push(`the contract holds no checkpoint covering position ${p.position}`);
    else if (
      c.fromPosition !== p.checkpoint.fromPosition ||
      c.toPosition !== p.checkpoint.toPosition ||
      c.merkleRoot !== p.checkpoint.merkleRoot
    ) {
      problems.push(`the contract anchors ${rangeOf(c)} with root ${c.merkleRoot}, not the proof's checkpoint`);
    }
  }
  return { ok: problems.length === 0, problems };
}
