import { setTimeout as sleep } from 'node:timers/promises';

export interface HttpAnswer {
  /** HTTP status, or 0 when no answer came (refused, reset, timed out). */
  status: number;
  body: unknown;
  ms: number;
  /** Why there was no answer, for status 0. */
  error?: string;
}

/** One JSON request that never throws: a dead server is an answer too (status 0). */
export async function request(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body, ms: performance.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, body: undefined, ms: performance.now() - started, error: e.cause?.code ?? e.name };
  }
}

/** Polls until `test` holds; resolves with the time it took, or rejects after `timeoutMs`. */
export async function waitUntil(
  what: string,
  test: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await test().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}
