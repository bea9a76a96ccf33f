import { describe, expect, it } from 'vitest';
import { storableField, storableJson, storableMaxDepth, storableText, tooDeepMarker } from '../src/index.js';

const nested = (depth: number, leaf: unknown): unknown =>
  JSON.parse(`${'['.repeat(depth)}${JSON.stringify(leaf)}${']'.repeat(depth)}`);

describe('storable text', () => {
  it('maps NUL and lone surrogates to U+FFFD and keeps surrogate pairs', () => {
    expect(storableText('a\u0000b\ud800c\udfffd')).toBe('a\uFFFDb\uFFFDc\uFFFDd');
    expect(storableText('😀\ud83d')).toBe('😀\uFFFD');
    expect(storableText('plain')).toBe('plain');
  });

  it('encodes JSON that Postgres jsonb accepts: keys too, at any depth, without overflowing', () => {
    const value = { 'k\u0000': ['\ud800', { deep: nested(3000, 'x\u0000') }], n: Number.NaN, u: undefined };
    const text = storableJson(value);
    expect(text).not.toMatch(/\\u0000|\\ud[89a-f]/i);
    const back = JSON.parse(text);
    expect(Object.keys(back)).toEqual(['k\uFFFD', 'n']);
    expect(back.n).toBeNull();
    expect(back['k\uFFFD'][0]).toBe('\uFFFD');
    // Containers past the cap become the marker; everything above it is kept.
    let at = back['k\uFFFD'][1].deep;
    let depth = 3;
    while (Array.isArray(at)) {
      at = at[0];
      depth++;
    }
    expect(at).toBe(tooDeepMarker);
    expect(depth).toBe(storableMaxDepth); // 256 levels kept, the marker at the 257th
  });

  it('caps depth and keeps escaped-looking text also where the native encoder would have managed', () => {
    const capped = JSON.parse(storableJson({ v: nested(300, 1) }));
    expect(JSON.stringify(capped)).toContain(JSON.stringify(tooDeepMarker));
    const literal = { s: '\\u0000 and \\ud800 are just text here' };
    expect(JSON.parse(storableJson(literal))).toEqual(literal);
    expect(storableJson(undefined)).toBe('null');
  });

  it('matches JSON.stringify on ordinary values', () => {
    const ordinary = { a: [1, 'two', null, true, { b: [] }], c: 'é😀', d: [undefined, () => 1] };
    expect(storableJson(ordinary)).toBe(JSON.stringify(ordinary));
    expect(storableField({ x: 1 })).toBe('{"x":1}');
    expect(storableField(null)).toBe('');
    expect(storableField('a\u0000')).toBe('a\uFFFD');
  });
});
