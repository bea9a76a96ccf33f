import { z } from 'zod';
import { timeoutError } from '../engine/decideNext.js';
import { httpIdempotencyKey } from '../engine/keys.js';
import { type Activity, type ActivityOutcome, errorText, invalidInput } from './activity.js';

export interface HttpActivityOptions {
  /** Timeout of a step without `timeoutMs`, in ms. */
  defaultTimeoutMs: number;
  /** Largest response body kept as the step's output, in bytes. */
  maxResponseBytes: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** The input of an `http.request` step. */
export const httpStepInputSchema = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http or https URL'),
    method: z
      .string()
      .transform((m) => m.toUpperCase())
      .pipe(z.enum(methods))
      .optional(),
    headers: z.record(z.string()).default({}),
    /** A string is sent as it is; anything else as JSON. */
    body: z.unknown().optional(),
  })
  .strict()
  .refine((i) => i.body === undefined || !['GET', 'HEAD'].includes(i.method ?? 'POST'), {
    message: 'GET and HEAD requests cannot have a body',
    path: ['body'],
  });

/**
 * How a response status counts: 2xx succeeds; 5xx, 408 and 429 are worth retrying (the
 * server may recover); every other status is a request the server will keep refusing.
 */
export function classifyStatus(status: number): 'success' | 'retryable' | 'permanent' {
  if (status >= 200 && status < 300) return 'success';
  if (status >= 500 || status === 408 || status === 429) return 'retryable';
  return 'permanent';
}

/** A response body as output: JSON when the content type says so and it parses, else text, null when empty. */
export function bodyOutput(contentType: string | null, text: string): unknown {
  if (text === '') return null;
  if (contentType && /[/+]json\b/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

class BodyTooLarge extends Error {}

async function readBody(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw new BodyTooLarge(`the response body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const describeNetworkError = (err: unknown): string => {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
};

/**
 * `http.request`: calls the URL in the step's input with an `Idempotency-Key` header
 * (`runId:stepId:attempt`), so a receiver can drop the repeat when a crash makes the
 * executor call twice for one attempt.
 */
export function createHttpActivity(options: HttpActivityOptions): Activity {
  const doFetch = options.fetch ?? fetch;
  return async ({ runId, work, meta, signal, now }): Promise<ActivityOutcome> => {
    const parsed = httpStepInputSchema.safeParse(work.step.input);
    if (!parsed.success) {
      return { kind: 'fail', error: invalidInput('http.request', parsed.error), retryable: false };
    }
    const input = parsed.data;
    const method = input.method ?? (input.body === undefined ? 'GET' : 'POST');
    const headers = new Headers(input.headers);
    headers.set('idempotency-key', httpIdempotencyKey(runId, work.step.id, work.attempt));
    if (meta.traceparent) headers.set('traceparent', meta.traceparent);
    if (!headers.has('user-agent')) headers.set('user-agent', 'lightdom-executor');
    let body: string | undefined;
    if (typeof input.body === 'string') body = input.body;
    else if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }

    // The step's deadline bounds the call; without one, the default timeout does.
    const byDeadline = work.deadlineAt !== null;
    const timeoutMs = byDeadline
      ? Math.max(0, Date.parse(work.deadlineAt!) - now().getTime())
      : options.defaultTimeoutMs;
    const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
    const timedOut = (): ActivityOutcome => ({
      kind: 'fail',
      error: byDeadline ? timeoutError(work.step) : `timeout: no response within ${timeoutMs} ms`,
      retryable: true,
      timedOut: true,
    });
    const interrupted = (err: unknown): ActivityOutcome | undefined => {
      if (signal.aborted) return { kind: 'abandoned' };
      if (timeout.aborted) return timedOut();
      if (err instanceof BodyTooLarge) return { kind: 'fail', error: err.message, retryable: false };
      return undefined;
    };
    if (timeoutMs <= 0) return timedOut();

    let response: Response;
    try {
      response = await doFetch(input.url, { method, headers, body, signal: AbortSignal.any([signal, timeout]) });
    } catch (err) {
      return (
        interrupted(err) ?? {
          kind: 'fail',
          error: errorText(`network error calling ${method} ${input.url}: ${describeNetworkError(err)}`),
          retryable: true,
        }
      );
    }
    let text: string;
    try {
      text = await readBody(response, options.maxResponseBytes);
    } catch (err) {
      return (
        interrupted(err) ?? {
          kind: 'fail',
          error: errorText(`reading the response of ${method} ${input.url}: ${describeNetworkError(err)}`),
          retryable: true,
        }
      );
    }
    const kind = classifyStatus(response.status);
    if (kind === 'success') {
      return {
        kind: 'complete',
        output: { status: response.status, body: bodyOutput(response.headers.get('content-type'), text) },
      };
    }
    return {
      kind: 'fail',
      error: errorText(`HTTP ${response.status} from ${method} ${input.url}${text ? `: ${text.slice(0, 500)}` : ''}`),
      retryable: kind === 'retryable',
    };
  };
}
