import { z } from 'zod';
import { BodyTooLarge, type EgressDeps, EgressRefused, egressFetch, readBody } from '../egress/egressClient.js';
import { timeoutError } from '../engine/decideNext.js';
import { httpIdempotencyKey } from '../engine/keys.js';
import { MissingSecret, type SecretSource, secretNamePattern } from '../secrets.js';
import { type Activity, type ActivityOutcome, errorText, invalidInput } from './activity.js';
import { errorBodyPrefix, type OutputBounds, stepOutput, UnstorableBody } from './httpOutput.js';

export interface HttpActivityOptions extends OutputBounds {
  /** Timeout of a step without `timeoutMs`, in ms. */
  defaultTimeoutMs: number;
  /** Largest response body read, in bytes; a longer one fails the step. */
  maxResponseBytes: number;
  /** Redirects followed (each one checked by the egress policy). */
  maxRedirects: number;
  /** The egress policy, the resolver and the connector. */
  egress: EgressDeps;
  /** Where `{"secret": NAME}` header values come from. */
  secrets: SecretSource;
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
    /** A value is a literal, or `{secret: NAME}` resolved when the step runs (never stored). */
    headers: z
      .record(z.union([z.string(), z.object({ secret: z.string().regex(secretNamePattern) }).strict()]))
      .default({}),
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

const describeNetworkError = (err: unknown): string => {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  return e.code ?? e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
};

/** A request Node refuses to send (a header value with a newline …) fails the same way every time. */
const isMalformedRequest = (err: unknown): boolean => /^ERR_INVALID_/.test((err as { code?: string }).code ?? '');

/** Headers sent on every call that a step's input cannot set. */
const ownHeaders = new Set(['idempotency-key', 'traceparent', 'host', 'content-length', 'transfer-encoding']);

/** The step's headers with secrets resolved, and the names that carry credentials (dropped on a cross-origin redirect). */
async function resolveHeaders(
  input: Record<string, string | { secret: string }>,
  secrets: SecretSource,
): Promise<{ headers: Record<string, string>; originBound: Set<string> }> {
  const headers: Record<string, string> = {};
  const originBound = new Set(['authorization', 'cookie', 'proxy-authorization']);
  for (const [rawName, value] of Object.entries(input)) {
    const name = rawName.toLowerCase();
    if (ownHeaders.has(name)) continue;
    if (typeof value === 'string') headers[name] = value;
    else {
      headers[name] = await secrets(value.secret);
      originBound.add(name);
    }
  }
  return { headers, originBound };
}

const fail = (error: string, retryable: boolean): ActivityOutcome => ({
  kind: 'fail',
  error: errorText(error),
  retryable,
});

/**
 * `http.request`: calls the URL in the step's input through the egress policy (every
 * hop resolved and checked before its connection opens), with an `Idempotency-Key`
 * header (`runId:stepId:attempt`) so a receiver can drop the repeat when a crash makes
 * the executor call twice for one attempt. `{"secret": NAME}` header values are read
 * when the step runs and never recorded. The output is bounded (see `stepOutput`).
 */
export function createHttpActivity(options: HttpActivityOptions): Activity {
  return async ({ runId, work, context, signal, now }): Promise<ActivityOutcome> => {
    const parsed = httpStepInputSchema.safeParse(work.step.input);
    if (!parsed.success) return fail(invalidInput('http.request', parsed.error), false);
    const input = parsed.data;
    const method = input.method ?? (input.body === undefined ? 'GET' : 'POST');
    let resolved: Awaited<ReturnType<typeof resolveHeaders>>;
    try {
      resolved = await resolveHeaders(input.headers, options.secrets);
    } catch (err) {
      if (err instanceof MissingSecret) return fail(err.message, false);
      throw err;
    }
    const { headers, originBound } = resolved;
    headers['idempotency-key'] = httpIdempotencyKey(runId, work.step.id, work.attempt);
    if (context.traceparent) headers.traceparent = context.traceparent;
    headers['user-agent'] ??= 'lightdom-executor';
    let body: string | undefined;
    if (typeof input.body === 'string') body = input.body;
    else if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));

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
      if (err instanceof EgressRefused || err instanceof BodyTooLarge) return fail(err.message, false);
      return undefined;
    };
    if (timeoutMs <= 0) return timedOut();

    const target = `${method} ${input.url}`;
    let status: number;
    let contentType: string | undefined;
    let raw: Buffer;
    try {
      const response = await egressFetch(
        {
          url: new URL(input.url),
          method,
          headers,
          body,
          originBound,
          maxRedirects: options.maxRedirects,
          signal: AbortSignal.any([signal, timeout]),
        },
        options.egress,
      );
      status = response.status;
      contentType = response.headers['content-type'];
      raw = await readBody(response.body, options.maxResponseBytes);
    } catch (err) {
      const retryable = (err as { retryable?: boolean }).retryable ?? !isMalformedRequest(err);
      return interrupted(err) ?? fail(`network error calling ${target}: ${describeNetworkError(err)}`, retryable);
    }
    const kind = classifyStatus(status);
    if (kind !== 'success') {
      const quoted = raw.byteLength > 0 ? `: ${errorBodyPrefix(raw, options.maxErrorBodyChars)}` : '';
      return fail(`HTTP ${status} from ${target}${quoted}`, kind === 'retryable');
    }
    try {
      return { kind: 'complete', output: stepOutput(status, contentType, raw, options) };
    } catch (err) {
      if (err instanceof UnstorableBody) return fail(`${target} answered ${status}, but ${err.message}`, false);
      throw err;
    }
  };
}
