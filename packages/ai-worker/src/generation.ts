import type { AiMessage } from '@lightdom/domain';
import { type ChatResponse, type GenerateResponse, Ollama, type Options } from 'ollama';

/** What one attempt asks of the model. */
export interface GenerationRequest {
  model: string;
  prompt: string | null;
  messages: AiMessage[] | null;
  /**
   * The task's options. `think`, `format` and `keep_alive` are request fields in Ollama's
   * API and are lifted out; everything else goes to the model as `options`.
   */
  options: Record<string, unknown>;
}

/** The output so far; `chunks` counts streamed pieces, roughly one token each. */
export interface GenerationSnapshot {
  content: string;
  thinking: string;
  chunks: number;
}

export interface GenerationResult extends GenerationSnapshot {
  promptTokens: number;
  completionTokens: number;
  durationMs: number;
}

const requestFields = ['think', 'format', 'keep_alive'] as const;

function splitOptions(options: Record<string, unknown>) {
  const fields: Record<string, unknown> = {};
  const modelOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if ((requestFields as readonly string[]).includes(key)) fields[key] = value;
    else modelOptions[key] = value;
  }
  return { fields, modelOptions: modelOptions as Partial<Options> };
}

/**
 * An `ollama` client whose every request also ends when `signal` aborts. The client's
 * own `abort()` only reaches a stream once its response has started, which for a model
 * still loading can take minutes; the signal reaches the request from the start.
 */
export function abortableOllama(host: string, signal: AbortSignal): Ollama {
  return new Ollama({
    host,
    fetch: (input, init) =>
      fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }),
  });
}

/**
 * Streams one completion: `generate` for a prompt, `chat` for messages. `onChunk` sees
 * the output after every piece and must not block. Token counts and the duration come
 * from Ollama's final chunk, measured here when it leaves them out.
 */
export async function streamGeneration(
  ollama: Ollama,
  request: GenerationRequest,
  onChunk: (snapshot: GenerationSnapshot) => void,
): Promise<GenerationResult> {
  const startedAt = performance.now();
  const { fields, modelOptions } = splitOptions(request.options);
  const base = { ...fields, model: request.model, options: modelOptions, stream: true as const };
  const snapshot: GenerationSnapshot = { content: '', thinking: '', chunks: 0 };
  let final: GenerateResponse | ChatResponse | undefined;
  const take = (content: string | undefined, thinking: string | undefined, part: GenerateResponse | ChatResponse) => {
    snapshot.content += content ?? '';
    snapshot.thinking += thinking ?? '';
    if (content || thinking) snapshot.chunks++;
    if (part.done) final = part;
    else onChunk(snapshot);
  };
  if (request.messages) {
    for await (const part of await ollama.chat({ ...base, messages: request.messages })) {
      take(part.message?.content, part.message?.thinking, part);
    }
  } else {
    for await (const part of await ollama.generate({ ...base, prompt: request.prompt ?? '' })) {
      take(part.response, part.thinking, part);
    }
  }
  const totalNs = final?.total_duration;
  return {
    ...snapshot,
    promptTokens: final?.prompt_eval_count ?? 0,
    completionTokens: final?.eval_count ?? snapshot.chunks,
    durationMs: Math.round(typeof totalNs === 'number' && totalNs > 0 ? totalNs / 1e6 : performance.now() - startedAt),
  };
}
