import { type ErrorCode, ErrorCodes, LightdomError } from '@lightdom/domain';
import { httpStatusOf } from './problems.js';

/** The slug of a code in a problem's `type`: `VALIDATION_FAILED` → `validation-failed`. */
export const problemSlug = (code: ErrorCode) => code.toLowerCase().replaceAll('_', '-');

/** Where each problem `type` points: this API's own page, so the link resolves wherever it runs. */
export const problemTypeOf = (code: ErrorCode) => `/problems/${problemSlug(code)}`;

/** What a client should do on each code: the text of its page. */
const advice: Record<ErrorCode, string> = {
  VALIDATION_FAILED:
    'A field, parameter or header is wrong; `errors` names each one. Fix the request; do not retry it as is.',
  UNKNOWN_COMMAND: 'The command `type` is not in the catalogue (docs/api.md lists it).',
  UNAUTHORIZED:
    'No bearer token, or one that is not configured. Send `Authorization: Bearer <token>` (on /ws: the header or a first `auth` frame).',
  FORBIDDEN:
    'The token is valid but its role may not do this (a reader sending a command, an operator sending an internal command). `details.allowedRoles` says who may.',
  NOT_FOUND:
    'The aggregate, workflow, definition version or route does not exist; `errors` names the field when one is to blame.',
  ALREADY_EXISTS: 'An aggregate with this id exists already.',
  INVALID_TRANSITION:
    "The aggregate's lifecycle does not allow this command now (e.g. running a deprecated workflow); `details` gives the state.",
  CONCURRENCY_CONFLICT: 'The aggregate changed while the command was decided. Retry: reload and send again.',
  VERSION_MISMATCH:
    "The `expectedVersion` (or `If-Match`) is not the aggregate's version. Read it again before deciding.",
  PAYLOAD_TOO_LARGE: 'The body (or frame) is larger than BODY_LIMIT_BYTES.',
  UNSUPPORTED_MEDIA_TYPE: 'Bodies must be `application/json`.',
  INVARIANT_VIOLATION: 'The command would break a rule of the aggregate (e.g. spend above budget).',
  IDEMPOTENCY_KEY_REUSED: 'This idempotency key was used for a different command; use a new key.',
  LIMIT_EXCEEDED:
    'A configured cap is reached (subscriptions per socket or process, …); `details.limit` says which. Retry later.',
  INTEGRITY_VIOLATION: 'The log failed its hash-chain check; the operators are alerted. Do not retry.',
  INTERNAL: 'An unexpected error; the request id (`instance`) finds it in the logs. Retrying may help.',
  UNAVAILABLE: 'A backing service (NATS, Postgres) is away. Retry after the `Retry-After` delay.',
  STALE_READ:
    'The read models did not reach `minPosition` in time. Retry, wait longer (`waitMs`), or accept `allowStale=true`.',
};

const codesBySlug = new Map((Object.keys(ErrorCodes) as ErrorCode[]).map((c) => [problemSlug(c), c]));
export const problemSlugs = [...codesBySlug.keys()];

const html = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** The HTML page of a problem type; NOT_FOUND for a slug that names no code. */
export function problemPage(slug: string): string {
  const code = codesBySlug.get(slug);
  if (!code)
    throw new LightdomError('NOT_FOUND', 'No such problem type', {
      issues: [{ field: 'code', message: `must be one of ${problemSlugs.join(', ')}` }],
    });
  const status = httpStatusOf[code];
  // Every string here is our own constant: nothing from the request reaches the page.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${code} · LightDom problem</title></head>
<body>
<h1>${code}</h1>
<p><strong>HTTP ${status}</strong> · ${ErrorCodes[code].retryable ? 'retryable' : 'not retryable'}</p>
<p>${html(ErrorCodes[code].message)}.</p>
<p>${html(advice[code])}</p>
<p>Every error code, with its gRPC and AMQP equivalents: docs/api.md, "Errors". The API's contract: <a href="/docs">/docs</a>.</p>
</body></html>
`;
}
