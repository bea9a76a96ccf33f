import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped.
 * Two semantically equal values always encode to the same bytes, which is what the
 * hash chain and the idempotency fingerprints need.
 *
 * Iterative, with an explicit stack: a value nested thousands deep (a forged commit, a
 * hostile step output) encodes like any other instead of overflowing the call stack. The
 * output is byte-for-byte what the earlier recursive version produced, so stored hashes
 * still verify.
 */
export function canonicalJson(value: unknown): string {
  // Values of ordinary depth (every commit) take the recursive path, about twice as fast;
  // anything deeper is encoded by the explicit stack below, to the same bytes.
  try {
    return shallow(value, 0);
  } catch (err) {
    if (err !== tooDeep) throw err;
  }
  return deep(value);
}

const tooDeep = new Error('canonicalJson: deeper than the recursive path goes');
const maxRecursion = 64;

function shallow(v: unknown, depth: number): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new TypeError('canonicalJson: non-finite number');
    }
    return JSON.stringify(v) ?? 'null';
  }
  if (depth >= maxRecursion) throw tooDeep;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ',';
      out += v[i] === undefined ? 'null' : shallow(v[i], depth + 1);
    }
    return `${out}]`;
  }
  const record = v as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${shallow(member, depth + 1)}`;
    first = false;
  }
  return `${out}}`;
}

/** The explicit-stack encoder: no recursion, any depth. */
function deep(value: unknown): string {
  const out: string[] = [];
  // Each entry is either a value still to encode or literal text (`,`, `]`, `"key":`).
  const stack: ({ text: string } | { value: unknown })[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new TypeError('canonicalJson: non-finite number');
      }
      out.push(JSON.stringify(v) ?? 'null');
      continue;
    }
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] === undefined ? null : v[i] });
        if (i > 0) stack.push({ text: ',' });
      }
      continue;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    out.push('{');
    stack.push({ text: '}' });
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      stack.push({ value: record[key] });
      stack.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(key)}:` });
    }
  }
  return out.join('');
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
