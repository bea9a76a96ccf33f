import { type FakeOllama, startFakeOllama } from '@lightdom/testkit';
import { Ollama } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fake stands in for Ollama in every other test, so check it against the real client.
let fake: FakeOllama;
let ollama: Ollama;
beforeAll(async () => {
  fake = await startFakeOllama({ reply: ({ prompt }) => `<think>hm</think> echo ${prompt}` });
  ollama = new Ollama({ host: fake.url });
});
afterAll(async () => fake?.close());

describe('fake Ollama', () => {
  it('answers /api/version and lists its models', async () => {
    expect(await (await fetch(`${fake.url}/api/version`)).json()).toEqual({ version: '0.0.0-fake' });
    const { models } = await ollama.list();
    expect(models.map((m) => m.name)).toEqual(['deepseek-r1:7b']);
  });

  it('streams a generation chunk by chunk, ending with the counts', async () => {
    const parts: string[] = [];
    let last: { done: boolean; eval_count: number } | undefined;
    for await (const part of await ollama.generate({ model: 'deepseek-r1:7b', prompt: 'hi there', stream: true })) {
      parts.push(part.response);
      last = part;
    }
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.join('')).toBe('<think>hm</think> echo hi there');
    expect(last).toMatchObject({ done: true, eval_count: 4 });
  });

  it('answers a chat without streaming, and refuses a model it does not have', async () => {
    const res = await ollama.chat({ model: 'deepseek-r1:7b', messages: [{ role: 'user', content: 'yo' }] });
    expect(res.message).toEqual({ role: 'assistant', content: '<think>hm</think> echo yo' });
    await expect(ollama.generate({ model: 'llama3', prompt: 'x' })).rejects.toThrow(/not found/);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/api/generate' });
  });
});
