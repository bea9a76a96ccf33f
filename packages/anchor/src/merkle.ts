import { createHash } from 'node:crypto';

/**
 * The audit checkpoint tree (docs/audit.md):
 * - leaf i = sha256(0x00 || commit hash of position fromPosition + i), the commit hash
 *   taken as its 32 raw bytes;
 * - node = sha256(0x01 || left || right);
 * - a level with an odd number of nodes carries its last node up unchanged (it is never
 *   paired with itself, so no two different leaf lists share a root that way);
 * - the root of one leaf is that leaf's hash.
 * The 0x00/0x01 prefixes keep a leaf from ever being read as a node (second preimages).
 */

const hex64 = /^[0-9a-f]{64}$/;
const leafPrefix = Buffer.from([0x00]);
const nodePrefix = Buffer.from([0x01]);

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function commitHashBytes(hash: string, index: number): Buffer {
  if (!hex64.test(hash)) throw new TypeError(`leaf ${index}: a commit hash must be 64 lowercase hex characters`);
  return Buffer.from(hash, 'hex');
}

export const leafHash = (commitHash: string): string =>
  sha256(leafPrefix, commitHashBytes(commitHash, 0)).toString('hex');
export const nodeHash = (left: string, right: string): string =>
  sha256(nodePrefix, Buffer.from(left, 'hex'), Buffer.from(right, 'hex')).toString('hex');

/** The levels of the tree, leaves first, root last. */
function levels(commitHashes: readonly string[]): Buffer[][] {
  if (commitHashes.length === 0) throw new RangeError('a Merkle tree needs at least one commit');
  const out: Buffer[][] = [commitHashes.map((h, i) => sha256(leafPrefix, commitHashBytes(h, i)))];
  for (let level = out[0]!; level.length > 1; ) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right ? sha256(nodePrefix, level[i]!, right) : level[i]!);
    }
    out.push(next);
    level = next;
  }
  return out;
}

/** The root (64 lowercase hex) over the commit hashes of a range, in position order. */
export function merkleRoot(commitHashes: readonly string[]): string {
  return levels(commitHashes).at(-1)![0]!.toString('hex');
}

/** One step of an inclusion path: the sibling's hash and which side it is on. */
export interface ProofStep {
  side: 'left' | 'right';
  hash: string;
}

/**
 * The path from leaf `index` to the root: each sibling met on the way up. A level where
 * the node has no sibling (odd count, last node) adds no step.
 */
export function inclusionPath(commitHashes: readonly string[], index: number): ProofStep[] {
  if (!Number.isInteger(index) || index < 0 || index >= commitHashes.length) {
    throw new RangeError(`leaf index ${index} is outside 0..${commitHashes.length - 1}`);
  }
  const path: ProofStep[] = [];
  const all = levels(commitHashes);
  let i = index;
  for (const level of all.slice(0, -1)) {
    const sibling = i % 2 === 0 ? level[i + 1] : level[i - 1];
    if (sibling) path.push({ side: i % 2 === 0 ? 'right' : 'left', hash: sibling.toString('hex') });
    i = Math.floor(i / 2);
  }
  return path;
}

/** The root a commit hash and its path lead to. */
export function rootFromPath(commitHash: string, path: readonly ProofStep[]): string {
  let h = sha256(leafPrefix, commitHashBytes(commitHash, 0));
  for (const [n, step] of path.entries()) {
    if (!hex64.test(step.hash)) throw new TypeError(`path[${n}].hash must be 64 lowercase hex characters`);
    const sibling = Buffer.from(step.hash, 'hex');
    h = step.side === 'left' ? sha256(nodePrefix, sibling, h) : sha256(nodePrefix, h, sibling);
  }
  return h.toString('hex');
}
