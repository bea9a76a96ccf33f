import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLoggerFactory } from '../src/http/requestLogger.js';

function capture(level = 'info') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  // A fixed clock, so the lines of a child and of the lazy logger compare byte for byte.
  const logger = pino({ level, base: { service: 'command-api' }, timestamp: () => ',"time":1' }, sink);
  return { logger, lines };
}

const factory = lazyChildLoggerFactory((reqId, headers) => ({
  correlationId: (headers as Record<string, string>)['x-correlation-id'] ?? String(reqId),
}));
const headers = { 'x-correlation-id': 'order-42' };

/** The same calls on a real pino child with the same bindings, and on the lazy logger. */
function both(calls: (log: Logger) => void, level = 'info') {
  const real = capture(level);
  calls(real.logger.child({ reqId: 'r-1', correlationId: 'order-42' }));
  const lazy = capture(level);
  calls(factory(lazy.logger, { reqId: 'r-1' }, {}, { headers }) as unknown as Logger);
  return { real: real.lines, lazy: lazy.lines };
}

describe('request logger without a pino child per request', () => {
  it('writes the same line as a child for an object and a message', () => {
    const { real, lazy } = both((log) => {
      log.info({ method: 'POST', url: '/api/campaigns', status: 201, ms: 1.2 }, 'request');
      log.warn({ code: 'VALIDATION_FAILED' }, 'request rejected %s', 'x');
    });
    expect(lazy).toEqual(real);
    expect(JSON.parse(lazy[0]!)).toMatchObject({ reqId: 'r-1', correlationId: 'order-42', msg: 'request' });
  });

  it('writes the same for an Error, a bare string, an error under err and a grandchild', () => {
    const { real, lazy } = both((log) => {
      log.error(new Error('boom'));
      log.info('plain text');
      log.error({ err: new Error('inner') }, 'request failed');
      log.child({ extra: 1 }).info({ a: 1 }, 'from a grandchild');
      log.info({ after: true }, 'after the child was built');
    });
    // Stacks carry the line of each call site: compare without them.
    const strip = (l: string) => l.replace(/"stack":"[^"]*"/g, '"stack":"…"');
    expect(lazy.map(strip)).toEqual(real.map(strip));
    expect(lazy).toHaveLength(5);
  });

  it('writes nothing below its level, and reports levels as the parent does', () => {
    const { real, lazy } = both((log) => {
      log.info({ a: 1 }, 'hidden');
      log.debug('hidden too');
      log.warn({ b: 2 }, 'shown');
      expect(log.isLevelEnabled('info')).toBe(false);
      expect(log.level).toBe('warn');
    }, 'warn');
    expect(lazy).toEqual(real);
    expect(lazy).toHaveLength(1);
  });

  it('a level set on the request logger applies to it only', () => {
    const lazy = capture('warn');
    const log = factory(lazy.logger, { reqId: 'r-2' }, {}, { headers: {} }) as unknown as Logger;
    log.level = 'debug';
    log.debug({ c: 3 }, 'now shown');
    lazy.logger.debug('parent still hides debug');
    expect(lazy.lines.map((l) => JSON.parse(l).msg)).toEqual(['now shown']);
    expect(JSON.parse(lazy.lines[0]!)).toMatchObject({ reqId: 'r-2', correlationId: 'r-2' });
  });
});
