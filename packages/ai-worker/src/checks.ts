import type { ReadinessCheck } from '@lightdom/runtime';
import type { NatsConnection } from 'nats';
import type { Ollama } from 'ollama';

/**
 * NATS answers a round trip and JetStream answers for the account. Fails at once while
 * the connection is known to be down, instead of waiting out the check's time limit.
 */
export const natsCheck =
  (nc: NatsConnection, isConnected?: () => boolean): ReadinessCheck =>
  async () => {
    if (isConnected && !isConnected()) throw new Error('disconnected');
    await nc.flush();
    await (await nc.jetstreamManager()).getAccountInfo();
  };

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
