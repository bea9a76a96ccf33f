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

/**
 * A commit sealed in one pass: its canonical JSON is built once, hashed, and stored with the
 * hash appended as the last member, so the bytes written are the hashed text plus
 * `,"hash":"…"` (any JSON reader gets the same commit as from `encodeCommit`, and
 * `hashCommit` of what it decodes gives the same hash).
 */
export function sealCommit(body: Omit<Commit, 'hash'>): { commit: Commit; bytes: Uint8Array } {
  const canonical = canonicalJson(body);
  const hash = sha256Hex(canonical);
  // `canonical` is an object's encoding (it ends in `}`) with at least the commit's own fields.
  const bytes = encoder.encode(`${canonical.slice(0, -1)},"hash":"${hash}"}`);
  return { commit: { ...body, hash }, bytes };
}

export function decodeCommit(data: Uint8Array, position: number): StoredCommit {
  const commit = JSON.parse(decoder.decode(data)) as Commit;
  return { ...commit, position };
}
