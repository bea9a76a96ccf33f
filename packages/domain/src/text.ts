import { z } from 'zod';

/**
 * Text that every part of the system can store. Postgres `text` and `jsonb` cannot hold
 * U+0000, and a lone UTF-16 surrogate is not Unicode at all (Postgres refuses its JSON
 * escape, UTF-8 encoders replace it): a command carrying either would be accepted into the
 * immutable log and then break whatever reads it. So every edge refuses them, through the
 * catalogue's schemas, with an issue naming the field.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this refuses.
const noNul = /^[^\u0000]*$/;
// In `u` mode a surrogate pair is one code point outside this range; only lone halves match.
const noLoneSurrogate = /^[^\uD800-\uDFFF]*$/u;

export const textMessages = {
  nul: 'must not contain the NUL character (U+0000)',
  loneSurrogate: 'must not contain a lone UTF-16 surrogate (not a Unicode character)',
} as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this replaces.
const unstorable = /\u0000|[\uD800-\uDFFF]/gu;

/**
 * The same text with U+0000 and lone surrogates replaced by U+FFFD, for text that comes from
 * outside the edge (a webhook's answer, a model's output) and must still be recordable.
 */
export const toStorableText = (value: string): string => value.replace(unstorable, '\uFFFD');

/** The problem with a string, if it is not storable text. */
export function textProblem(value: string): string | undefined {
  if (!noNul.test(value)) return textMessages.nul;
  if (!noLoneSurrogate.test(value)) return textMessages.loneSurrogate;
  return undefined;
}

export interface TextOptions {
  /** Most UTF-16 code units. */
  max: number;
  /** Fewest UTF-16 code units (after trimming, with `trim`). Default 0. */
  min?: number;
  /** Trim white space before checking and storing. Default false. */
  trim?: boolean;
}

/**
 * A string schema that refuses NUL and lone surrogates; still a `ZodString`, so
 * `.optional()`, `.default()` and further checks chain as usual.
 *
 * @example text({ max: 200, min: 1, trim: true }) // a campaign name
 */
export function text(opts: TextOptions): z.ZodString {
  let s = z.string();
  if (opts.trim) s = s.trim();
  if (opts.min !== undefined && opts.min > 0) s = s.min(opts.min);
  return s.max(opts.max).regex(noNul, textMessages.nul).regex(noLoneSurrogate, textMessages.loneSurrogate);
}

/** Bounds of one free-form JSON value (step inputs, AI options, step outputs, run input). */
export interface FreeFormLimits {
  /** Deepest nesting of arrays and objects; a scalar is depth 0, `{}` depth 1. */
  maxDepth: number;
  /** Most bytes of its JSON encoding (UTF-8). */
  maxBytes: number;
}

/**
 * The catalogue's limits for free-form values. They are part of the command contract,
 * like the 200-character name, not a deployment setting: every service must agree on
 * what the log can hold. 256 KiB keeps a commit with a few of them under JetStream's
 * default 1 MiB message size; depth 32 is far beyond any real option or payload and far
 * below what a recursive encoder (JSON.stringify overflows at a few thousand) can take.
 */
export const freeFormLimits: Readonly<FreeFormLimits> = Object.freeze({ maxDepth: 32, maxBytes: 256 * 1024 });

/** The command envelope's whole `data`: the catalogue's structure plus free-form values inside it. */
export const envelopeDataLimits: Readonly<FreeFormLimits> = Object.freeze({ maxDepth: 64, maxBytes: 1024 * 1024 });

export interface JsonProblem {
  /** Path below the checked value; empty for the value itself. */
  path: (string | number)[];
  message: string;
}

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Checks that `value` is plain JSON within `limits` and that every string and key in it is
 * storable text. Iterative, with an explicit stack, so hostile nesting cannot overflow the
 * call stack; it stops at the first problem. The size is that of `JSON.stringify(value)`.
 */
export function jsonProblem(value: unknown, limits: FreeFormLimits): JsonProblem | undefined {
  // Each frame names its parent and its own key: the path is built only for a problem,
  // instead of copied into every member's frame (which allocated for every node checked).
  interface Frame {
    value: unknown;
    parent: Frame | null;
    key: string | number | null;
    depth: number;
  }
  const pathOf = (frame: Frame, extra?: string): (string | number)[] => {
    const path: (string | number)[] = extra === undefined ? [] : [extra];
    for (let f: Frame | null = frame; f !== null && f.key !== null; f = f.parent) path.push(f.key);
    return path.reverse();
  };
  const stack: Frame[] = [{ value, parent: null, key: null, depth: 0 }];
  let bytes = 0;
  const tooBig = (path: (string | number)[]): JsonProblem => ({
    path,
    message: `must not be larger than ${limits.maxBytes} bytes as JSON`,
  });
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value: v, depth } = frame;
    if (v === null || typeof v === 'boolean') bytes += v === true ? 4 : 5;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: pathOf(frame), message: 'must hold only finite numbers' };
      bytes += String(v).length;
    } else if (typeof v === 'string') {
      const problem = textProblem(v);
      if (problem) return { path: pathOf(frame), message: problem };
      bytes += utf8Bytes(v) + 2;
    } else if (typeof v === 'object') {
      if (depth + 1 > limits.maxDepth) {
        // The first step of the path is enough to find it; the rest would be dozens of zeros.
        return {
          path: pathOf(frame).slice(0, 1),
          message: `must not nest arrays and objects deeper than ${limits.maxDepth} levels`,
        };
      }
      if (Array.isArray(v)) {
        bytes += 2 + Math.max(0, v.length - 1);
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: frame, key: i, depth: depth + 1 });
      } else {
        const proto = Object.getPrototypeOf(v);
        if (proto !== Object.prototype && proto !== null) return { path: pathOf(frame), message: 'must be plain JSON' };
        const keys = Object.keys(v);
        bytes += 2 + Math.max(0, keys.length - 1);
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i]!;
          const problem = textProblem(key);
          if (problem) return { path: pathOf(frame, key), message: `key ${problem}` };
          const member = (v as Record<string, unknown>)[key];
          if (member === undefined) continue;
          bytes += utf8Bytes(key) + 3;
          stack.push({ value: member, parent: frame, key, depth: depth + 1 });
        }
      }
    } else if (v !== undefined) {
      return { path: pathOf(frame), message: 'must be plain JSON' };
    }
    if (bytes > limits.maxBytes) return tooBig([]);
  }
  return undefined;
}

function refineJson(limits: FreeFormLimits) {
  return (value: unknown, ctx: z.RefinementCtx) => {
    const problem = jsonProblem(value, limits);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, path: problem.path, message: problem.message });
  };
}

/**
 * Any JSON value within the free-form limits (a step's output).
 *
 * @example freeFormValue().optional()
 */
export const freeFormValue = (limits: FreeFormLimits = freeFormLimits) => z.unknown().superRefine(refineJson(limits));

/**
 * A JSON object within the free-form limits (step inputs, AI options, a run's input).
 *
 * @example freeFormObject().default({})
 */
export const freeFormObject = (limits: FreeFormLimits = freeFormLimits) =>
  z.record(z.unknown()).superRefine(refineJson(limits));
