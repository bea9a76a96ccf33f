import {
  canonicalJson,
  freeFormLimits,
  isLightdomError,
  jsonProblem,
  type LightdomError,
  text,
  textMessages,
  toStorableText,
} from '@lightdom/domain';
import { parseCommand } from '@lightdom/eventstore';
import { describe, expect, it } from 'vitest';

/** `[[[…]]]` nested `depth` levels, as JSON.parse of hostile text would build it. */
const nested = (depth: number, leaf: unknown = 1): unknown =>
  JSON.parse(`${'['.repeat(depth)}${JSON.stringify(leaf)}${']'.repeat(depth)}`);

function refusal(envelope: unknown): LightdomError {
  try {
    parseCommand(envelope);
  } catch (err) {
    if (isLightdomError(err)) return err;
    throw err;
  }
  throw new Error('the command was accepted');
}

const campaign = (data: Record<string, unknown>) => ({
  type: 'CreateCampaign',
  data: { name: 'ok', budget: { amount: 1, currency: 'EUR' }, ...data },
});

describe('text()', () => {
  const name = text({ min: 1, max: 10, trim: true });

  it('refuses a lone surrogate and NUL, naming the problem', () => {
    for (const bad of ['a\ud800b', 'a\udc00', '\ud83d', 'x\ude00y']) {
      const r = name.safeParse(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(r.error?.issues[0]?.message).toBe(textMessages.loneSurrogate);
    }
    const nul = name.safeParse('a\u0000b');
    expect(nul.error?.issues.map((i) => i.message)).toEqual([textMessages.nul]);
  });

  it('keeps surrogate pairs, other control characters and the other string checks', () => {
    expect(name.parse(' 😀 ok\t')).toBe('😀 ok');
    expect(name.safeParse('   ').success).toBe(false); // min after trim
    expect(name.safeParse('x'.repeat(11)).success).toBe(false);
    expect(text({ max: 5 }).optional().parse(undefined)).toBeUndefined();
  });
});

describe('jsonProblem()', () => {
  const limits = { maxDepth: 32, maxBytes: 1000 };

  it('accepts plain JSON up to the depth bound and refuses one level more', () => {
    expect(jsonProblem(nested(32), limits)).toBeUndefined();
    expect(jsonProblem({ a: nested(31) }, limits)).toBeUndefined();
    expect(jsonProblem(nested(33), limits)).toEqual({
      path: [0],
      message: 'must not nest arrays and objects deeper than 32 levels',
    });
    expect(jsonProblem({ a: nested(32) }, limits)?.path).toEqual(['a']);
  });

  it('walks a value nested 200,000 deep without overflowing the stack', () => {
    expect(jsonProblem(nested(200_000), limits)?.message).toMatch(/deeper than 32/);
  });

  it('refuses NUL and lone surrogates in any string or key, naming the path', () => {
    expect(jsonProblem({ a: [{ b: 'x\u0000' }] }, limits)).toEqual({ path: ['a', 0, 'b'], message: textMessages.nul });
    expect(jsonProblem({ a: { 'k\ud800': 1 } }, limits)).toEqual({
      path: ['a', 'k\ud800'],
      message: `key ${textMessages.loneSurrogate}`,
    });
  });

  it('bounds the JSON size and refuses what JSON cannot carry', () => {
    const justFits = { s: 'x'.repeat(1000 - JSON.stringify({ s: '' }).length) };
    expect(Buffer.byteLength(JSON.stringify(justFits))).toBe(1000);
    expect(jsonProblem(justFits, limits)).toBeUndefined();
    expect(jsonProblem({ s: `${justFits.s}x` }, limits)?.message).toBe('must not be larger than 1000 bytes as JSON');
    expect(jsonProblem({ s: 'é'.repeat(600) }, limits)?.message).toMatch(/larger than/); // bytes, not characters
    expect(jsonProblem({ n: Number.NaN }, limits)?.path).toEqual(['n']);
    expect(jsonProblem({ d: new Date() }, limits)?.message).toBe('must be plain JSON');
  });
});

describe('the catalogue refuses unstorable text and unbounded free-form JSON, naming the field', () => {
  it('finding 1: a lone surrogate in a campaign name', () => {
    const err = refusal(campaign({ name: 'a\ud800b' }));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.issues).toEqual([{ field: 'data.name', message: textMessages.loneSurrogate }]);
  });

  it('finding 1: NUL in envelope strings and deep inside free-form fields', () => {
    expect(refusal({ ...campaign({}), idempotencyKey: 'k\u0000' }).issues?.[0]?.field).toBe('idempotencyKey');
    expect(refusal({ type: 'Create\u0000Campaign', data: {} }).issues?.[0]).toEqual({
      field: 'type',
      message: textMessages.nul,
    });
    const output = refusal({
      type: 'CompleteWorkflowStep',
      aggregateId: 'r1',
      data: { stepId: 'a', output: { items: [{ body: 'x\u0000' }] } },
    });
    expect(output.issues?.[0]).toEqual({ field: 'data.output.items.0.body', message: textMessages.nul });
  });

  it('finding 8: JSON nested 2,500 deep in run input, step input and AI options', () => {
    const steps = [{ id: 'a', type: 'delay', input: { deep: nested(2500) } }];
    const run = { type: 'RequestWorkflowRun', data: { workflowId: 'w1', definitionVersion: 1, steps, input: {} } };
    expect(refusal(run).issues?.[0]?.field).toBe('data.steps');
    const input = { ...run, data: { ...run.data, steps: [{ id: 'a', type: 'delay' }], input: { x: nested(2500) } } };
    expect(refusal(input).issues?.[0]).toMatchObject({ field: 'data.input', message: expect.stringMatching(/deeper/) });
    // 40 deep passes the envelope (64) and stops at the field's own bound (32).
    const stepInput = { ...run, data: { ...run.data, steps: [{ id: 'a', type: 'delay', input: { x: nested(40) } }] } };
    expect(refusal(stepInput).issues?.[0]).toMatchObject({ field: 'data.steps.0.input.x', message: /deeper than 32/ });
    const ai = { type: 'RequestAiTask', data: { model: 'm', prompt: 'p', options: { stop: nested(2500) } } };
    expect(refusal(ai).issues?.[0]?.field).toBe('data.options');
  });

  it('finding 8: a free-form value over its size bound', () => {
    const big = {
      type: 'RequestAiTask',
      data: { model: 'm', prompt: 'p', options: { s: 'x'.repeat(freeFormLimits.maxBytes) } },
    };
    expect(refusal(big).issues?.[0]).toMatchObject({ field: 'data.options', message: /larger than 262144 bytes/ });
    const ok = {
      type: 'RequestAiTask',
      data: { model: 'm', prompt: 'p', options: { temperature: 0.2, stop: ['\n'] } },
    };
    expect(parseCommand(ok).data).toMatchObject({ options: { temperature: 0.2 } });
  });
});

/** The recursive encoder canonicalJson replaced: the iterative one must give the same bytes. */
function recursiveCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : recursiveCanonical(v))).join(',')}]`;
  const r = value as Record<string, unknown>;
  const entries = Object.keys(r)
    .filter((k) => r[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${recursiveCanonical(r[k])}`);
  return `{${entries.join(',')}}`;
}

describe('canonicalJson', () => {
  it('encodes exactly as the recursive version did', () => {
    const samples: unknown[] = [
      null,
      0,
      'a"\\\u0001😀\ud800',
      [],
      {},
      [1, undefined, [2, [3, {}]], { b: 1, a: [null, true] }],
      { z: { y: undefined, x: [{ w: 'v' }] }, é: -1.5e-7, '': '' },
      { fn: () => 1, arr: [() => 1] },
    ];
    for (const s of samples) expect(canonicalJson(s)).toBe(recursiveCanonical(s));
  });

  it('encodes a value nested 100,000 deep instead of overflowing the stack', () => {
    const encoded = canonicalJson(nested(100_000, { a: 'b' }));
    expect(encoded).toBe(`${'['.repeat(100_000)}{"a":"b"}${']'.repeat(100_000)}`);
    expect(() => canonicalJson({ n: Number.POSITIVE_INFINITY })).toThrow(/non-finite/);
  });
});

describe('toStorableText', () => {
  it('replaces NUL and lone surrogates with U+FFFD and keeps surrogate pairs', () => {
    expect(toStorableText('a\u0000b\ud800c\udfff')).toBe('a\ufffdb\ufffdc\ufffd');
    expect(toStorableText('😀 ok')).toBe('😀 ok');
    expect(text({ max: 10 }).safeParse(toStorableText('\u0000\udc00')).success).toBe(true);
  });
});
