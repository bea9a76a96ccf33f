import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOllamaOptions {
  /** Models that /api/tags lists and that generate and chat accept. Default `['deepseek-r1:7b']`. */
  models?: string[];
  /** The whole answer to a prompt (or to the last chat message). Default: a `<think>` block and an echo. */
  reply?: (request: { model: string; prompt: string }) => string;
  /** Pause between streamed chunks, in ms. Default 0. */
  chunkDelayMs?: number;
}

export interface FakeOllamaRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeOllama {
  /** Base URL to use as `OLLAMA_URL`, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Every request received, oldest first. */
  requests: FakeOllamaRequest[];
  close(): Promise<void>;
}

const defaultReply = ({ prompt }: { prompt: string }) =>
  `<think>The user asked: ${prompt}</think>\n\nThis is a fake answer to: ${prompt}`;

const modelEntry = (name: string) => ({
  name,
  model: name,
  modified_at: new Date(0).toISOString(),
  size: 4_683_087_332,
  digest: '0'.repeat(64),
  details: {
    parent_model: '',
    format: 'gguf',
    family: 'qwen2',
    families: ['qwen2'],
    parameter_size: '7.6B',
    quantization_level: 'Q4_K_M',
  },
});

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
};

/** Splits text into word-sized pieces, keeping the whitespace, as a model streams tokens. */
const toChunks = (text: string) => text.match(/\s*\S+\s*/g) ?? [text];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A tiny HTTP server that speaks enough of the Ollama API for tests: `GET /api/version`,
 * `GET /api/tags`, and `POST /api/generate` and `/api/chat`, which stream NDJSON chunks
 * unless the request says `stream: false`.
 *
 * @example
 * const ollama = await startFakeOllama({ reply: () => 'hello' });
 * process.env.OLLAMA_URL = ollama.url;
 * // ...
 * await ollama.close();
 */
export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const models = options.models ?? ['deepseek-r1:7b'];
  const reply = options.reply ?? defaultReply;
  const requests: FakeOllamaRequest[] = [];

  async function complete(res: ServerResponse, body: Record<string, unknown>, kind: 'generate' | 'chat') {
    const model = String(body.model ?? '');
    if (!models.includes(model)) {
      sendJson(res, 404, { error: `model '${model}' not found, try pulling it first` });
      return;
    }
    const messages = (body.messages as { content?: string }[] | undefined) ?? [];
    const prompt = kind === 'chat' ? String(messages.at(-1)?.content ?? '') : String(body.prompt ?? '');
    const text = reply({ model, prompt });
    const piece = (content: string) =>
      kind === 'chat' ? { message: { role: 'assistant', content } } : { response: content };
    const chunks = toChunks(text);
    const final = {
      model,
      created_at: new Date().toISOString(),
      ...piece(''),
      done: true,
      done_reason: 'stop',
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: toChunks(prompt).length,
      prompt_eval_duration: 200_000,
      eval_count: chunks.length,
      eval_duration: 700_000,
    };
    if (body.stream === false) {
      sendJson(res, 200, { ...final, ...piece(text) });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const chunk of chunks) {
      res.write(`${JSON.stringify({ model, created_at: new Date().toISOString(), ...piece(chunk), done: false })}\n`);
      if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
    }
    res.end(`${JSON.stringify(final)}\n`);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      requests.push({ method: req.method ?? 'GET', path, body });
      if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: '0.0.0-fake' });
      if (req.method === 'GET' && path === '/api/tags') return sendJson(res, 200, { models: models.map(modelEntry) });
      if (req.method === 'POST' && path === '/api/generate') return complete(res, body ?? {}, 'generate');
      if (req.method === 'POST' && path === '/api/chat') return complete(res, body ?? {}, 'chat');
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 400, { error: (err as Error).message });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
