import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A generate or chat request as the fake's hooks see it. */
export interface FakeOllamaPrompt {
  kind: 'generate' | 'chat';
  model: string;
  /** The prompt, or the last chat message's content. */
  prompt: string;
  messages: { role: string; content: string }[] | null;
  options: Record<string, unknown>;
  /** Whether the request asked for a separate `thinking` stream (`think: true`). */
  think: boolean;
  /** How many generate and chat requests came before this one. */
  index: number;
}

/**
 * How a request goes wrong: `http-500` answers 500 at once, `error` streams half the
 * answer and then an error line (as Ollama does when its runner dies), `close` streams
 * half the answer and then drops the connection.
 */
export type FakeOllamaFault = 'http-500' | 'error' | 'close';

export interface FakeOllamaOptions {
  /** Models that /api/tags lists and that generate and chat accept; any other is a 404. Default `['deepseek-r1:7b']`. */
  models?: string[];
  /** The whole answer, `<think>` block included. Default: a `<think>` block and an echo. */
  reply?: (request: FakeOllamaPrompt) => string;
  /** Pause between streamed chunks, in ms. Default 0. */
  chunkDelayMs?: number | ((request: FakeOllamaPrompt) => number);
  /** Pause before the response starts (a model loading), in ms. Default 0. */
  firstChunkDelayMs?: number | ((request: FakeOllamaPrompt) => number);
  /** Breaks a request; called once per generate or chat request. Default: none. */
  fault?: (request: FakeOllamaPrompt) => FakeOllamaFault | undefined;
  /** Port to listen on, e.g. to come back where a worker expects Ollama. Default: a free one. */
  port?: number;
}

export interface FakeOllamaRequest {
  method: string;
  path: string;
  body: unknown;
  /**
   * How a generate or chat request ended: `done` (answered in full), `aborted` (the
   * client went away first), `fault` (broken on purpose) or `rejected` (an error status).
   */
  outcome?: 'done' | 'aborted' | 'fault' | 'rejected';
}

export interface FakeOllama {
  /** Base URL to use as `OLLAMA_URL`, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
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

/**
 * A tiny HTTP server that speaks enough of the Ollama API for tests: `GET /api/version`,
 * `GET /api/tags`, and `POST /api/generate` and `/api/chat`, which stream NDJSON chunks
 * unless the request says `stream: false`. An unknown model is a 404; `think: true`
 * streams the `<think>` block as a separate `thinking` field; delays, faults and a fixed
 * port let tests play a slow, broken or restarted Ollama. Every request is recorded with
 * how it ended.
 *
 * @example
 * const ollama = await startFakeOllama({ reply: () => 'hello', chunkDelayMs: 20 });
 * process.env.OLLAMA_URL = ollama.url;
 * // ...
 * await ollama.close();
 */
export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const models = options.models ?? ['deepseek-r1:7b'];
  const reply = options.reply ?? defaultReply;
  const requests: FakeOllamaRequest[] = [];

  const valueFor = (v: number | ((r: FakeOllamaPrompt) => number) | undefined, r: FakeOllamaPrompt) =>
    typeof v === 'function' ? v(r) : (v ?? 0);
  let generations = 0;

  async function complete(
    res: ServerResponse,
    record: FakeOllamaRequest,
    body: Record<string, unknown>,
    kind: 'generate' | 'chat',
  ) {
    const model = String(body.model ?? '');
    const messages = Array.isArray(body.messages) ? (body.messages as { role: string; content: string }[]) : null;
    const prompt = kind === 'chat' ? String(messages?.at(-1)?.content ?? '') : String(body.prompt ?? '');
    const request: FakeOllamaPrompt = {
      kind,
      model,
      prompt,
      messages,
      options: (body.options as Record<string, unknown> | undefined) ?? {},
      think: body.think === true,
      index: generations++,
    };
    let gone = false;
    let onGone: () => void = () => undefined;
    const goneSignal = new Promise<void>((resolve) => {
      onGone = resolve;
    });
    res.on('close', () => {
      gone = !res.writableFinished;
      onGone();
    });
    /** Pauses, cut short when the client goes away; false when it did. */
    const wait = async (ms: number) => {
      if (ms > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), goneSignal]);
        clearTimeout(timer);
      }
      if (gone) {
        record.outcome = 'aborted';
        return false;
      }
      return true;
    };
    if (!(await wait(valueFor(options.firstChunkDelayMs, request)))) return;
    const fault = options.fault?.(request);
    if (fault === 'http-500') {
      record.outcome = 'fault';
      sendJson(res, 500, { error: 'llama runner process has terminated: exit status 2' });
      return;
    }
    if (!models.includes(model)) {
      record.outcome = 'rejected';
      sendJson(res, 404, { error: `model '${model}' not found, try pulling it first` });
      return;
    }
    const text = reply(request);
    // With `think: true`, Ollama ≥ 0.9 streams the thinking apart from the answer.
    const thought = request.think ? /^\s*<think>([\s\S]*?)<\/think>\s*/.exec(text) : null;
    const answer = thought ? text.slice(thought[0].length) : text;
    const pieces = [
      ...(thought ? toChunks(thought[1]!).map((t) => ({ thinking: t })) : []),
      ...toChunks(answer).map((t) => ({ content: t })),
    ];
    const piece = (p: { content?: string; thinking?: string }) => {
      const content = p.content ?? '';
      const thinking = p.thinking !== undefined ? { thinking: p.thinking } : {};
      return kind === 'chat'
        ? { message: { role: 'assistant', content, ...thinking } }
        : { response: content, ...thinking };
    };
    const final = {
      model,
      created_at: new Date().toISOString(),
      ...piece({}),
      done: true,
      done_reason: 'stop',
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: toChunks(prompt).length,
      prompt_eval_duration: 200_000,
      eval_count: pieces.length,
      eval_duration: 700_000,
    };
    if (body.stream === false) {
      record.outcome = 'done';
      const whole = { content: answer, ...(thought ? { thinking: thought[1]! } : {}) };
      sendJson(res, 200, { ...final, ...piece(whole) });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const delay = valueFor(options.chunkDelayMs, request);
    for (const [i, p] of pieces.entries()) {
      if (fault && i === Math.floor(pieces.length / 2)) {
        record.outcome = 'fault';
        if (fault === 'close') res.destroy();
        else
          res.end(`${JSON.stringify({ error: 'an error was encountered while running the model: unexpected EOF' })}\n`);
        return;
      }
      res.write(`${JSON.stringify({ model, created_at: new Date().toISOString(), ...piece(p), done: false })}\n`);
      if (!(await wait(delay))) return;
    }
    record.outcome = 'done';
    res.end(`${JSON.stringify(final)}\n`);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const record: FakeOllamaRequest = { method: req.method ?? 'GET', path, body };
      requests.push(record);
      if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: '0.0.0-fake' });
      if (req.method === 'GET' && path === '/api/tags') return sendJson(res, 200, { models: models.map(modelEntry) });
      if (req.method === 'POST' && path === '/api/generate') return complete(res, record, body ?? {}, 'generate');
      if (req.method === 'POST' && path === '/api/chat') return complete(res, record, body ?? {}, 'chat');
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
    })().catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 400, { error: (err as Error).message });
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
