// fastify's CommonJS export needs a named binding under NodeNext resolution.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { fastify as Fastify, type FastifyServerOptions, LogController } from 'fastify';
import type { HttpBounds } from './configPieces.js';

/** Turns off fastify's two per-request lines; services log one line of their own. */
export const quietRequestLogs = () => new LogController({ disableRequestLogging: true });

/** How a client error that never reached a route is answered (problem+json, like every other error). */
const clientProblems: Record<string, { status: number; code: string; detail: string; retryable: boolean }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    detail: 'The request did not arrive in time',
    retryable: true,
  },
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    detail: 'The request line and headers are too large',
    retryable: false,
  },
};
const malformed = { status: 400, code: 'VALIDATION_FAILED', detail: 'The request is not valid HTTP', retryable: false };

/**
 * Answers a request Node's parser refused (time-out, oversized or malformed head) with a
 * problem document that echoes nothing of the request, then closes the connection.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p = clientProblems[err.code ?? ''] ?? malformed;
  const body = JSON.stringify({
    type: `https://lightdom.dev/problems/${p.code.toLowerCase().replaceAll('_', '-')}`,
    title: p.code,
    status: p.status,
    detail: p.detail,
    code: p.code,
    retryable: p.retryable,
  });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status]}\r\nConnection: close\r\n` +
        `Content-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * fastify options that bound a server in time. Node checks request and header deadlines
 * on a timer; it runs often enough that a cut comes within a tenth of the bound (at most 1 s late).
 */
export function httpServerOptions(bounds: HttpBounds): Partial<FastifyServerOptions> {
  const headersTimeout = Math.min(bounds.headersTimeoutMs, bounds.requestTimeoutMs);
  const checkEvery = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 10)));
  return {
    requestTimeout: bounds.requestTimeoutMs,
    connectionTimeout: bounds.connectionTimeoutMs,
    keepAliveTimeout: bounds.keepAliveTimeoutMs,
    http: { headersTimeout, connectionsCheckingInterval: checkEvery },
    clientErrorHandler: answerClientError,
  } as Partial<FastifyServerOptions>;
}

export { Fastify };
