import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createProgressThrottle } from '../src/progress.js';

describe('progress throttle', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => vi.useRealTimers());

  const setup = () => {
    let text = '';
    const sent: string[] = [];
    let release: (() => void) | undefined;
    let hold = false;
    const throttle = createProgressThrottle({
      intervalMs: 500,
      read: () => ({ partialText: text, tokens: text.length }),
      send: async (p) => {
        sent.push(p.partialText);
        if (hold) await new Promise<void>((r) => (release = r));
      },
    });
    return {
      throttle,
      sent,
      grow: (more: string) => {
        text += more;
        throttle.offer();
      },
      hold: (on: boolean) => (hold = on),
      release: () => release?.(),
    };
  };

  it('sends the first output at once, then at most once per interval, the latest text', async () => {
    const t = setup();
    t.grow('a');
    expect(t.sent).toEqual(['a']);
    t.grow('b');
    t.grow('c');
    await vi.advanceTimersByTimeAsync(499);
    expect(t.sent).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.sent).toEqual(['a', 'abc']);
    await t.throttle.stop();
  });

  it('sends nothing when the output did not grow, and nothing after stop', async () => {
    const t = setup();
    t.grow('a');
    t.throttle.offer();
    await vi.advanceTimersByTimeAsync(2000);
    expect(t.sent).toEqual(['a']);
    t.grow('b');
    t.grow('c');
    await t.throttle.stop();
    await vi.advanceTimersByTimeAsync(2000);
    expect(t.sent).toEqual(['a', 'ab']);
  });

  it('never queues behind a slow send: it sends the latest text when the slow one is done', async () => {
    const t = setup();
    t.hold(true);
    t.grow('a');
    for (const c of 'bcdef') {
      t.grow(c);
      await vi.advanceTimersByTimeAsync(400);
    }
    expect(t.sent).toEqual(['a']);
    t.hold(false);
    t.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.sent).toEqual(['a', 'abcdef']);
    await t.throttle.stop();
  });

  it('waits for a send in flight when stopped', async () => {
    const t = setup();
    t.hold(true);
    t.grow('a');
    let stopped = false;
    const stopping = t.throttle.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    t.release();
    await stopping;
    expect(stopped).toBe(true);
  });
});
