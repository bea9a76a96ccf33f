import { readFileSync } from 'node:fs';
import { topicMatches } from '@lightdom/amqp-server';
import { ErrorCodes } from '@lightdom/domain';
import { describe, expect, it } from 'vitest';
import { decodeMethod, decodeProperties, encodeMethod, encodeProperties } from '../../amqp-server/src/codec.js';
import { contentFrames, FrameParser, methodFrame } from '../../amqp-server/src/frames.js';
import { amqpBoundsOf, defaultAmqpBounds } from '../src/amqp/bounds.js';
import { amqpReplyCodeOf, commandApiConfigSchema } from '../src/index.js';

describe('topic matching', () => {
  it.each([
    ['campaign.*', 'campaign.CampaignCreated', true],
    ['campaign.*', 'campaign', false],
    ['campaign.*', 'campaign.a.b', false],
    ['campaign.#', 'campaign', true],
    ['campaign.#', 'campaign.a.b', true],
    ['#', '', true],
    ['*', '', false],
    ['', '', true],
    ['*', 'a', true],
    ['a.*', 'a.', true],
    ['#.*', '', false],
    ['#.created', 'a.b.created', true],
    ['*.#.x', 'a.x', true],
    ['*.#.x', 'x', false],
    ['a.#.#.b', 'a.b', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
  ])('%s matches %s: %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });
});

describe('codec', () => {
  it('round-trips a method with packed bits and a nested field table', () => {
    const args = {
      queue: 'q',
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: true,
      nowait: false,
      arguments: { 'x-max': 5, big: 2 ** 40, nested: { ok: true, s: 'é' }, list: [1, 'two', null], f: 1.5 },
    };
    const { spec, args: decoded } = decodeMethod(encodeMethod('queue.declare', args));
    expect(spec.name).toBe('queue.declare');
    expect(decoded).toMatchObject(args);
  });

  it('round-trips basic properties', () => {
    const props = { contentType: 'application/json', deliveryMode: 2, headers: { a: 'b' }, timestamp: 1700000000 };
    expect(decodeProperties(encodeProperties(props))).toEqual(props);
  });

  it('splits bodies to the frame size and reassembles frames across chunk boundaries', () => {
    const body = Buffer.alloc(10_000, 7);
    const frames = [methodFrame(1, 'basic.qosOk'), ...contentFrames(1, encodeProperties({}), body, 4096)];
    expect(frames).toHaveLength(1 + 1 + 3);
    const parser = new FrameParser();
    const all = Buffer.concat(frames);
    const out = [...parser.push(all.subarray(0, 5000)), ...parser.push(all.subarray(5000))];
    expect(out.map((f) => f.type)).toEqual([1, 2, 3, 3, 3]);
    expect(Buffer.concat(out.slice(2).map((f) => f.payload)).equals(body)).toBe(true);
  });

  it('rejects a frame above frame_max with 501 FRAME_ERROR', () => {
    const parser = new FrameParser();
    parser.frameMax = 4096;
    expect(() => parser.push(contentFrames(1, encodeProperties({}), Buffer.alloc(5000), 8192)[1]!)).toThrow(
      /FRAME_ERROR/,
    );
  });
});

describe('field table depth (issue 7, finding 8)', () => {
  /** queue.declare whose arguments nest `depth` tables, encoded by the writer. */
  const declare = (depth: number) => {
    let t: Record<string, unknown> = {};
    for (let i = 0; i < depth - 1; i++) t = { a: t };
    return encodeMethod('queue.declare', { queue: 'q', arguments: t });
  };

  it('decodes tables nested up to the bound and refuses deeper ones with 502, naming the limit', () => {
    expect(decodeMethod(declare(64), 64).args.arguments).toBeTypeOf('object');
    expect(() => decodeMethod(declare(65), 64)).toThrow(
      expect.objectContaining({ code: 502, text: 'SYNTAX_ERROR - field table nested deeper than 64 levels' }),
    );
  });

  it('keeps a `__proto__` key as data, not as the prototype', () => {
    const payload = encodeMethod('queue.declare', { queue: 'q', arguments: JSON.parse('{"__proto__": {"x": 1}}') });
    const args = decodeMethod(payload, 64).args.arguments as Record<string, unknown>;
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(Object.keys(args)).toEqual(['__proto__']);
  });
});

describe('AMQP bounds configuration (issue 7)', () => {
  it('takes every default from the config schema and refuses a bad value naming the variable', () => {
    const parsed = commandApiConfigSchema.parse({ AMQP_MAX_CONNECTIONS: '7', AMQP_MEMORY_HIGH_WATERMARK_MB: '2' });
    expect(amqpBoundsOf(parsed)).toMatchObject({ maxConnections: 7, memoryHighWatermarkBytes: 2 * 1024 * 1024 });
    expect(defaultAmqpBounds()).toEqual(amqpBoundsOf(commandApiConfigSchema.parse({})));
    const bad = commandApiConfigSchema.safeParse({ AMQP_HANDSHAKE_TIMEOUT_MS: '0' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['AMQP_HANDSHAKE_TIMEOUT_MS']);
  });

  it('documents every AMQP bound variable in docs/amqp.md', () => {
    const doc = readFileSync(new URL('../../../docs/amqp.md', import.meta.url), 'utf8');
    const vars = Object.keys(commandApiConfigSchema.shape).filter((k) => k.startsWith('AMQP_'));
    expect(vars.length).toBeGreaterThan(12);
    for (const v of vars) expect(doc).toContain(`\`${v}\``);
  });
});

describe('error mapping', () => {
  it('maps every LightDom error code, and docs/amqp.md names each one', () => {
    const doc = readFileSync(new URL('../../../docs/amqp.md', import.meta.url), 'utf8');
    for (const code of Object.keys(ErrorCodes)) {
      expect(amqpReplyCodeOf[code as keyof typeof ErrorCodes], code).toBeGreaterThan(0);
      expect(doc, code).toContain(`\`${code}\``);
    }
  });
});
