import { setTimeout as sleep } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { createKeyedQueue } from '../src/commands/keyedQueue.js';

it('runs tasks of one key one at a time, in order, and keys independently', async () => {
  const q = createKeyedQueue();
  const log: string[] = [];
  const task = (name: string, ms: number) => async () => {
    log.push(`${name}+`);
    await sleep(ms);
    log.push(`${name}-`);
    return name;
  };
  const results = await Promise.all([q.run('a', task('a1', 20)), q.run('a', task('a2', 1)), q.run('b', task('b1', 5))]);
  expect(results).toEqual(['a1', 'a2', 'b1']);
  expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
  expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
  expect(q.size).toBe(0);
});

it('keeps going after a failed task', async () => {
  const q = createKeyedQueue();
  const failed = q.run('k', async () => {
    throw new Error('boom');
  });
  const next = q.run('k', async () => 'ok');
  await expect(failed).rejects.toThrow('boom');
  await expect(next).resolves.toBe('ok');
});
