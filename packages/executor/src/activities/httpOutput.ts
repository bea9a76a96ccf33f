import { toStorableText } from '@lightdom/domain';

/** Bounds on what an http.request step keeps of a response. */
export interface OutputBounds {
  /** Largest body kept in the step's output, in bytes of its JSON encoding; longer bodies are cut. */
  maxOutputBytes: number;
  /** Deepest nesting of a JSON response body; deeper bodies fail the step. */
  maxJsonDepth: number;
  /** Characters of an error response's body quoted in the step's error. */
  maxErrorBodyChars: number;
}

/** A step's output: the body in full, or its first bytes with a marker. */
export type HttpStepOutput =
  | { status: number; body: unknown }
  | { status: number; body: string; truncated: true; bytes: number };

/**
 * Whether JSON text nests deeper than `limit` arrays and objects. One pass, no recursion,
 * so a 5,000-deep body is judged without parsing it (nor recursing over it later).
 */
export function jsonDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? 'null');

/** The longest prefix of `text` whose JSON encoding fits in `max` bytes, not splitting a surrogate pair. */
export function prefixWithin(text: string, max: number): string {
  // Binary search on the length: escapes make the encoding of a prefix up to 6 bytes a character.
  let lo = 0;
  let hi = Math.min(text.length, max);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(text.slice(0, mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  const last = text.charCodeAt(lo - 1);
  return text.slice(0, lo > 0 && last >= 0xd800 && last <= 0xdbff ? lo - 1 : lo);
}

/** Thrown for a body the step cannot keep: a failure for good, with the reason. */
export class UnstorableBody extends Error {}

/**
 * The output of a 2xx response: `{status, body}` with the body parsed when the content
 * type is JSON (text otherwise, null when empty). A body whose JSON encoding is over
 * `maxOutputBytes` is kept as a text prefix with `truncated: true` and its size in
 * `bytes`. A JSON body nested deeper than `maxJsonDepth` throws UnstorableBody.
 */
export function stepOutput(status: number, contentType: string | undefined, raw: Buffer, bounds: OutputBounds) {
  // A target's NUL or escaped lone surrogate becomes U+FFFD: the log refuses them, and the
  // step should succeed with what the target said rather than fail as unrecordable.
  const text = toStorableText(raw.toString('utf8'));
  let body: unknown = text === '' ? null : text;
  if (text !== '' && contentType && /[/+]json\b/i.test(contentType)) {
    if (jsonDeeperThan(text, bounds.maxJsonDepth)) {
      throw new UnstorableBody(
        `the JSON response nests deeper than ${bounds.maxJsonDepth} levels (HTTP_STEP_MAX_JSON_DEPTH); it was not stored`,
      );
    }
    try {
      body = JSON.parse(text, (_key, value) => (typeof value === 'string' ? toStorableText(value) : value));
    } catch {
      body = text;
    }
  }
  if (jsonBytes(body) <= bounds.maxOutputBytes) return { status, body } satisfies HttpStepOutput;
  return {
    status,
    body: prefixWithin(text, bounds.maxOutputBytes),
    truncated: true,
    bytes: raw.byteLength,
  } satisfies HttpStepOutput;
}

/**
 * The first characters of an error response's body, safe to quote in a step's error:
 * control characters (NUL …) and lone surrogates become U+FFFD, at most `max` characters.
 */
export function errorBodyPrefix(raw: Buffer, max: number): string {
  const text = raw.subarray(0, max * 4).toString('utf8');
  const cut = text.length > max ? `${prefixChars(text, max)} […]` : text;
  const controls = [...cut].map((ch) => {
    const c = ch.charCodeAt(0);
    return (c < 0x20 && c !== 0x09 && c !== 0x0a) || c === 0x7f ? '\ufffd' : ch;
  });
  return controls.join('').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const prefixChars = (text: string, max: number): string => {
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
};
