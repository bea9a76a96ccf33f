import { LightdomError } from '@lightdom/domain';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { instanceOf, sendProblem } from './problems.js';

/** Bounds of one `/ws` socket that are not about subscriptions. */
export interface WsSocketBounds {
  /** Origins whose pages may open the socket; `*` allows any. No Origin header (not a browser): allowed. */
  allowedOrigins: readonly string[];
  /** Ping interval in ms; a socket that has not answered the previous ping is closed. */
  pingIntervalMs: number;
  /** A socket that sends no frame and holds no subscription for this long (ms) is closed. */
  idleTimeoutMs: number;
}

/** Close code for a socket cut for silence (no pong, or idle): 4000 + HTTP 408. */
export const WS_TIMEOUT_CLOSE_CODE = 4408;

/**
 * A browser sends `Origin` on every WebSocket upgrade and cannot forge it: checking it is
 * what stops another site's page from using a signed-in operator's token. Refused before
 * the upgrade, so no frame is ever handled.
 */
export function checkOrigin(allowed: readonly string[]) {
  const any = allowed.includes('*');
  const set = new Set(allowed.map((o) => o.toLowerCase()));
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    if (origin === undefined || any || set.has(origin.toLowerCase())) return;
    req.log.info({ originLength: origin.length }, 'websocket origin refused');
    const err = new LightdomError('UNAUTHORIZED', 'This origin may not open the live feed', {
      issues: [{ field: 'Origin', message: 'is not in WS_ALLOWED_ORIGINS' }],
    });
    // 403, not 401: the credentials may be fine, the page that holds them is not.
    return sendProblem(reply, err, instanceOf(req), 403);
  };
}

/**
 * Pings the socket every `pingIntervalMs`; closes it (4408) when the previous ping got no
 * pong, or when it has sent no frame for `idleTimeoutMs` while `holdsWork()` is false.
 * A peer that does not finish the closing handshake is dropped a second later.
 */
export function keepAlive(socket: WebSocket, bounds: WsSocketBounds, holdsWork: () => boolean): void {
  let answered = true;
  let lastFrameAt = Date.now();
  const cut = (reason: string) => {
    clearInterval(pinger);
    clearTimeout(idleTimer);
    socket.close(WS_TIMEOUT_CLOSE_CODE, reason);
    setTimeout(() => socket.terminate(), 1000).unref();
  };
  const pinger = setInterval(() => {
    if (!answered) return cut('no pong: closing an unresponsive socket');
    answered = false;
    socket.ping();
  }, bounds.pingIntervalMs);
  let idleTimer: NodeJS.Timeout;
  const armIdle = (ms: number) => {
    idleTimer = setTimeout(() => {
      const quietFor = Date.now() - lastFrameAt;
      if (holdsWork()) return armIdle(bounds.idleTimeoutMs);
      if (quietFor < bounds.idleTimeoutMs) return armIdle(bounds.idleTimeoutMs - quietFor);
      cut('idle: no frame and no subscription');
    }, ms);
  };
  armIdle(bounds.idleTimeoutMs);
  socket.on('pong', () => {
    answered = true;
  });
  socket.on('message', () => {
    lastFrameAt = Date.now();
  });
  socket.on('close', () => {
    clearInterval(pinger);
    clearTimeout(idleTimer);
  });
}
