/**
 * The read models' encoding of text, total over everything the log can hold.
 *
 * The edges refuse NUL and lone surrogates, but the log is immutable and a commit can be
 * published straight onto the stream, so the projector must still store any string:
 * Postgres `text` and `jsonb` cannot hold U+0000, and a lone surrogate is not Unicode
 * (Postgres refuses its JSON escape; UTF-8 encoders replace it). In the read models — the
 * Postgres tables, the Redis hot views and the Redis Pub/Sub feed — both become U+FFFD
 * (the replacement character), in values and in object keys. The log keeps the original;
 * the hash chain covers the original, so `audit verify` is unaffected.
 */

const replacement = '\uFFFD';
// In `u` mode a surrogate pair is one code point outside the range: only lone halves match.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this finds.
const unstorable = /[\u0000\uD800-\uDFFF]/gu;

/** `value` with NUL and every lone surrogate replaced by U+FFFD; surrogate pairs are kept. */
export function storableText(value: string): string {
  return value.replace(unstorable, replacement);
}

/**
 * Containers nested deeper than this inside one value are stored as the string `…`:
 * Postgres refuses jsonb nested some thousands deep ("stack depth limit exceeded"). The
 * edges refuse anything deeper than 64, so only a forged commit can reach it.
 */
export const storableMaxDepth = 256;
export const tooDeepMarker = '\u2026';

type Frame = { text: string } | { value: unknown; depth: number };

function scalar(v: unknown): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(storableText(v));
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(String(v));
    default:
      return undefined; // undefined, functions, symbols: left out, as JSON.stringify does
  }
}

// JSON.stringify writes NUL and lone surrogates as escapes (pairs stay raw). A hit may also
// be an escaped backslash followed by such text: that only costs the slow path.
const unstorableEscape = /\\u0000|\\ud[89a-f]/i;

/** Deepest nesting of JSON text (brackets outside strings). */
function depthOf(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * JSON text of `value` that Postgres `jsonb` and any JSON reader accept: strings and keys
 * through `storableText`, non-finite numbers as null, containers past `storableMaxDepth`
 * as `…`. Ordinary values take the native encoder (checked: no unstorable escape, not too
 * deep); the rest the iterative one (an explicit stack), so no nesting depth overflows it.
 */
export function storableJson(value: unknown): string {
  let native: string | undefined;
  try {
    native = JSON.stringify(value);
  } catch {
    native = undefined; // nested beyond the call stack, or a bigint
  }
  // Nesting past the limit needs more than that many brackets, each closed: short text cannot.
  const shallow = (json: string) => json.length <= 2 * storableMaxDepth || depthOf(json) <= storableMaxDepth;
  if (native !== undefined && !unstorableEscape.test(native) && shallow(native)) return native;
  return encodeSlowly(value);
}

function encodeSlowly(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    let v = item.value;
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON(): unknown }).toJSON();
    }
    if (v === null || typeof v !== 'object') {
      out.push(scalar(v) ?? 'null');
      continue;
    }
    if (item.depth >= storableMaxDepth) {
      out.push(JSON.stringify(tooDeepMarker));
      continue;
    }
    const depth = item.depth + 1;
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: scalar(v[i]) === undefined && typeof v[i] !== 'object' ? null : v[i], depth });
        if (i > 0) stack.push({ text: ',' });
      }
      continue;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record).filter((k) => {
      const m = record[k];
      return (m !== null && typeof m === 'object') || scalar(m) !== undefined;
    });
    out.push('{');
    stack.push({ text: '}' });
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      stack.push({ value: record[key], depth });
      stack.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(storableText(key))}:` });
    }
  }
  return out.join('');
}

/** A hot-view field: objects as storable JSON, anything else as storable text. */
export const storableField = (v: unknown): string =>
  typeof v === 'object' && v !== null ? storableJson(v) : storableText(String(v ?? ''));
