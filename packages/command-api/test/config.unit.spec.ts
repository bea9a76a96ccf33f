import { describe, expect, it } from 'vitest';
import { commandApiConfigSchema } from '../src/index.js';

describe('EVENTS_REPLICAS', () => {
  it('defaults to one replica and takes 1 to 5', () => {
    expect(commandApiConfigSchema.parse({}).EVENTS_REPLICAS).toBe(1);
    expect(commandApiConfigSchema.parse({ EVENTS_REPLICAS: '3' }).EVENTS_REPLICAS).toBe(3);
  });

  it('refuses what JetStream would not take, naming the variable', () => {
    for (const [value, message] of [
      ['0', 'at least 1'],
      ['7', 'at most 5'],
      ['2.5', 'whole number'],
      ['three', 'must be a number'],
    ] as const) {
      const r = commandApiConfigSchema.safeParse({ EVENTS_REPLICAS: value });
      expect(r.success).toBe(false);
      const issue = r.error?.issues[0];
      expect(issue?.path).toEqual(['EVENTS_REPLICAS']);
      expect(issue?.message).toContain(message);
    }
  });
});
