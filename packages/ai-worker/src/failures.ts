/** What `FailAiTask` records about an attempt that did not complete. */
export interface AttemptFailure {
  error: string;
  retryable: boolean;
}

/** An error's message and, for fetch errors, the socket error hidden in `cause`. */
function describe(err: unknown): string {
  const e = err as { message?: unknown; cause?: { code?: string; message?: string } } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause && cause !== message ? `${message} (${cause})` : message;
}

/** The events schema caps an error at 5000 characters. */
const clip = (text: string) => (text.length > 4000 ? `${text.slice(0, 4000)}…` : text) || 'unknown error';

/**
 * Whether another attempt may succeed. Ollama's HTTP errors carry a status: a 4xx (an
 * unknown model, a bad option) will fail again, except 408 and 429; a 5xx may not.
 * Everything else — refused or reset connections, a stream that broke off or ended
 * without `done`, an error line inside the stream — is the server's trouble: retryable.
 */
export function classifyOllamaError(err: unknown): AttemptFailure {
  const status = (err as { status_code?: unknown }).status_code;
  if ((err as Error)?.name === 'ResponseError' && typeof status === 'number') {
    const retryable = status >= 500 || status === 408 || status === 429;
    return { error: clip(`Ollama answered ${status}: ${describe(err)}`), retryable };
  }
  return { error: clip(`Ollama request failed: ${describe(err)}`), retryable: true };
}

export const timeoutFailure = (timeoutMs: number): AttemptFailure => ({
  error: `timed out after ${timeoutMs} ms`,
  retryable: true,
});

export const shutdownFailure = (workerId: string): AttemptFailure => ({
  error: `worker ${workerId} stopped before finishing the attempt`,
  retryable: true,
});

export const abandonedFailure = (attempt: number, workerId: string | null): AttemptFailure => ({
  error: `attempt ${attempt} was abandoned: worker ${workerId ?? '(unknown)'} stopped answering before finishing it`,
  retryable: true,
});
