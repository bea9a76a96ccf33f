import type { Commit, StoredCommit } from '@lightdom/domain';
import { canonicalJson, sha256Hex } from '@lightdom/domain';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * sha256 over the canonical encoding of a commit as stored, without its `hash` and
 * without the `position` the stream assigned. Events must be in their stored shape
 * (not upcast) for the hash to match.
 */
export function hashCommit(commit: Omit<Commit, 'hash'> | Commit | StoredCommit): string {
  const { hash: _hash, position: _position, ...rest } = commit as StoredCommit;
  return sha256Hex(canonicalJson(rest));
}

export const encodeCommit = (commit: Commit): Uint8Array => encoder.encode(JSON.stringify(commit));

export function decodeCommit(data: Uint8Array, position: number): StoredCommit {
  const commit = JSON.parse(decoder.decode(data)) as Commit;
  return { ...commit, position };
}
