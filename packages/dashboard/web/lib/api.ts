import { clearToken, readToken } from './auth';

export interface FieldError {
  field: string;
  message: string;
}

/** A problem+json answer, kept whole so a page can put each part where it belongs. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fieldErrors: FieldError[] = [],
    readonly retryable = false,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
  /** The message for one field, matching `data.name` as well as `name`. */
  forField(field: string): string | undefined {
    return this.fieldErrors.find(
      (e) => e.field === field || e.field === `data.${field}` || e.field.endsWith(`.${field}`),
    )?.message;
  }
}

/** Command answer, the same on every edge. */
export interface CommandResult {
  id: string;
  version: number;
  position: number;
  duplicate: boolean;
  commitId: string;
}

let onUnauthorized: () => void = () => undefined;
/** Called when the API refuses the token: the app goes back to the sign-in page. */
export const setUnauthorizedHandler = (fn: () => void) => {
  onUnauthorized = fn;
};

async function problemOf(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    // not JSON: keep the status only
  }
  return new ApiError(
    res.status,
    String(body.code ?? `HTTP_${res.status}`),
    String(body.detail ?? body.title ?? res.statusText),
    Array.isArray(body.errors) ? (body.errors as FieldError[]) : [],
    body.retryable === true,
    (body.details as Record<string, unknown>) ?? {},
  );
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A token to try instead of the stored one (sign-in). */
  token?: string;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const token = options.token ?? readToken();
  const headers: Record<string, string> = { ...options.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'The API does not answer', [], true);
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    if (res.status === 401 && !options.token) {
      clearToken();
      onUnauthorized();
    }
    throw problem;
  }
  return (await res.json()) as T;
}

/** Any command through `POST /api/commands`. */
export const sendCommand = (command: {
  type: string;
  aggregateId?: string;
  expectedVersion?: number;
  data: Record<string, unknown>;
}) => request<CommandResult>('/api/commands', { method: 'POST', body: command });

/** True when the API has no such route yet (a read model of a later release). */
export const isMissingRoute = (err: unknown) =>
  err instanceof ApiError && err.status === 404 && /No route/.test(err.message);

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  stale: boolean;
  position: number;
}

export const query = (params: Record<string, string | number | undefined | null>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};
