import { LightdomError } from '@lightdom/domain';

/** The one place where NATS and JetStream failures become domain error codes. */
export function translateNatsError(err: unknown, what: string): LightdomError {
  if (err instanceof LightdomError) return err;
  const e = err as { code?: string; message?: string; api_error?: { err_code?: number } };
  const apiCode = e.api_error?.err_code;
  if (apiCode === 10071 || /wrong last sequence/i.test(e.message ?? '')) {
    return new LightdomError('CONCURRENCY_CONFLICT', `${what}: the aggregate changed concurrently`, {
      cause: err,
    });
  }
  if (e.code === 'MAX_PAYLOAD_EXCEEDED' || /maximum payload/i.test(e.message ?? '')) {
    return new LightdomError('PAYLOAD_TOO_LARGE', `${what}: the commit is too large`, { cause: err });
  }
  if (
    e.code === 'TIMEOUT' ||
    e.code === '503' ||
    e.code === 'CONNECTION_CLOSED' ||
    e.code === 'CONNECTION_DRAINING' ||
    e.code === 'DISCONNECT' ||
    e.code === 'CONNECTION_REFUSED'
  ) {
    return new LightdomError('UNAVAILABLE', `${what}: NATS JetStream is unavailable (${e.code})`, {
      cause: err,
    });
  }
  return new LightdomError('INTERNAL', `${what}: ${e.message ?? String(err)}`, { cause: err });
}

export const isNotFound = (err: unknown): boolean => {
  const e = err as { code?: string; message?: string };
  return e.code === '404' || /no message found|not found/i.test(e.message ?? '');
};
