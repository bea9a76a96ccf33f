import type { ReadinessCheck } from '@lightdom/runtime';
import type { Ollama } from 'ollama';

/** The useful part of an `ollama` client error: fetch hides the socket error in `cause`. */
export function ollamaErrorReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** Ollama's HTTP API answers (`GET /api/tags`); the error names the address and the cause. */
export const ollamaCheck =
  (ollama: Ollama, ollamaUrl: string): ReadinessCheck =>
  async () => {
    try {
      await ollama.list();
    } catch (err) {
      throw new Error(`${ollamaUrl}: ${ollamaErrorReason(err)}`);
    }
  };
