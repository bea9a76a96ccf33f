import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inclusionPath, leafHash, merkleRoot, nodeHash, rootFromPath } from '../src/merkle.js';

const h = (s: string) => createHash('sha256').update(s).digest('hex');
const hashes = Array.from({ length: 7 }, (_, i) => h(`commit ${i}`));

describe('audit checkpoint Merkle tree', () => {
  it('hashes leaves and nodes with distinct prefixes, as docs/audit.md writes them', () => {
    const leaf = createHash('sha256')
      .update(Buffer.concat([Buffer.from([0]), Buffer.from(hashes[0]!, 'hex')]))
      .digest('hex');
    expect(leafHash(hashes[0]!)).toBe(leaf);
    expect(merkleRoot([hashes[0]!])).toBe(leaf);
    const node = createHash('sha256')
      .update(
        Buffer.concat([
          Buffer.from([1]),
          Buffer.from(leafHash(hashes[0]!), 'hex'),
          Buffer.from(leafHash(hashes[1]!), 'hex'),
        ]),
      )
      .digest('hex');
    expect(merkleRoot(hashes.slice(0, 2))).toBe(node);
    expect(nodeHash(leafHash(hashes[0]!), leafHash(hashes[1]!))).toBe(node);
  });

  it('carries an odd last node up unchanged (three leaves: node(node(l0,l1), l2))', () => {
    const [l0, l1, l2] = hashes.slice(0, 3).map(leafHash) as [string, string, string];
    expect(merkleRoot(hashes.slice(0, 3))).toBe(nodeHash(nodeHash(l0, l1), l2));
    // Not the duplicate-last-leaf rule: [a,b,c] and [a,b,c,c] have different roots.
    expect(merkleRoot([...hashes.slice(0, 3), hashes[2]!])).not.toBe(merkleRoot(hashes.slice(0, 3)));
  });

  it('gives every leaf a path that leads to the root, and a changed leaf or step does not', () => {
    for (let n = 1; n <= hashes.length; n++) {
      const list = hashes.slice(0, n);
      const root = merkleRoot(list);
      for (let i = 0; i < n; i++) {
        const path = inclusionPath(list, i);
        expect(rootFromPath(list[i]!, path)).toBe(root);
        expect(rootFromPath(h('forged'), path)).not.toBe(root);
        if (path.length > 0) {
          const flipped = path.map((s, k) =>
            k === 0 ? ({ ...s, side: s.side === 'left' ? 'right' : 'left' } as const) : s,
          );
          expect(rootFromPath(list[i]!, flipped)).not.toBe(root);
        }
      }
    }
  });

  it('refuses an empty range, a bad hash and an index outside the range, naming them', () => {
    expect(() => merkleRoot([])).toThrow(/at least one commit/);
    expect(() => merkleRoot([hashes[0]!, 'xyz'])).toThrow(/leaf 1/);
    expect(() => inclusionPath(hashes, 7)).toThrow(/outside 0..6/);
    expect(() => rootFromPath(hashes[0]!, [{ side: 'left', hash: 'nope' }])).toThrow(/path\[0\]\.hash/);
  });
});
