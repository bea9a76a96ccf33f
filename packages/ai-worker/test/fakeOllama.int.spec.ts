import { type FakeOllama, startFakeOllama } from '@lightdom/testkit';
import { Ollama } from 'ollama';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fake stands in for Ollama in every other test, so check it against the real client.
let fake: FakeOllama;
let ollama: Ollama;
beforeAll(async () => {
  fake = await startFakeOllama({
    reply: ({ prompt }) => `<think>hm</think> echo ${prompt}`,
    fault: ({ prompt }) =>
      prompt.startsWith('break:') ? (prompt.slice(6) as 'error' | 'close' | 'http-500') : undefined,
    chunkDelayMs: ({ prompt }) => (prompt === 'slow one two three four five' ? 50 : 0),
  });
  ollama = new Ollama({ host: fake.url });
});
afterAll(async () => fake?.close());

const generate = async (prompt: string, extra: { think?: boolean } = {}) => {
  const parts: { response: string; thinking?: string; done: boolean; eval_count: number }[] = [];
  for await (const part of await ollama.generate({ model: 'deepseek-r1:7b', prompt, stream: true, ...extra })) {
    parts.push(part);
  }
  return parts;
};

describe('fake Ollama', () => {
  it('answers /api/version and lists its models', async () => {
    expect(await (await fetch(`${fake.url}/api/version`)).json()).toEqual({ version: '0.0.0-fake' });
    const { models } = await ollama.list();
    expect(models.map((m) => m.name)).toEqual(['deepseek-r1:7b']);
  });

  it('streams a generation chunk by chunk, ending with the counts', async () => {
    const parts = await generate('hi there');
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.map((p) => p.response).join('')).toBe('<think>hm</think> echo hi there');
    expect(parts.at(-1)).toMatchObject({ done: true, eval_count: 4 });
    expect(fake.requests.at(-1)?.outcome).toBe('done');
  });

  it('streams the thinking apart from the answer when asked to think', async () => {
    const parts = await generate('hi', { think: true });
    expect(parts.map((p) => p.thinking ?? '').join('')).toBe('hm');
    expect(parts.map((p) => p.response).join('')).toBe('echo hi');
    const chat = await ollama.chat({
      model: 'deepseek-r1:7b',
      messages: [{ role: 'user', content: 'yo' }],
      think: true,
    });
    expect(chat.message).toEqual({ role: 'assistant', content: 'echo yo', thinking: 'hm' });
  });

  it('answers a chat without streaming, and refuses a model it does not have', async () => {
    const res = await ollama.chat({ model: 'deepseek-r1:7b', messages: [{ role: 'user', content: 'yo' }] });
    expect(res.message).toEqual({ role: 'assistant', content: '<think>hm</think> echo yo' });
    await expect(ollama.generate({ model: 'llama3', prompt: 'x' })).rejects.toMatchObject({
      status_code: 404,
      message: expect.stringMatching(/not found/),
    });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/api/generate', outcome: 'rejected' });
  });

  it('breaks a request on purpose: an error status, an error line, a dropped connection', async () => {
    await expect(generate('break:http-500')).rejects.toMatchObject({ status_code: 500 });
    await expect(generate('break:error')).rejects.toThrow(/unexpected EOF/);
    await expect(generate('break:close')).rejects.toThrow();
    expect(fake.requests.slice(-3).map((r) => r.outcome)).toEqual(['fault', 'fault', 'fault']);
  });

  it('records a stream the client abandoned', async () => {
    const stream = await ollama.generate({
      model: 'deepseek-r1:7b',
      prompt: 'slow one two three four five',
      stream: true,
    });
    const consumed = (async () => {
      for await (const _part of stream) stream.abort();
    })();
    await expect(consumed).rejects.toThrow(/abort/);
    await expect.poll(() => fake.requests.at(-1)?.outcome).toBe('aborted');
  });

  it('comes back on the same port', async () => {
    const other = await startFakeOllama();
    const port = other.port;
    await other.close();
    await expect(fetch(`http://127.0.0.1:${port}/api/version`)).rejects.toThrow();
    const again = await startFakeOllama({ port });
    expect((await fetch(`${again.url}/api/version`)).status).toBe(200);
    await again.close();
  });
});
