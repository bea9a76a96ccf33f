import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  status as Status,
} from '@grpc/grpc-js';
import type { Application } from '@lightdom/app';
import { LightdomError } from '@lightdom/domain';
import type { Logger } from '@lightdom/runtime';
import { type CallContext, callContext } from './context.js';
import { toLightdomError, toServiceError } from './status.js';

/** What every handler wrapper needs: the core (to authenticate), a logger, metrics and the open streams. */
export interface CallKit {
  app: Pick<Application, 'authenticate'>;
  logger: Logger;
  /** Called once per finished call; `seconds` only for unary calls. */
  observe(method: string, code: string, seconds?: number): void;
  /** Open streams, ended with UNAVAILABLE when the server stops. */
  streams: Set<AbortController>;
}

const statusName = (code: Status): string => Status[code] ?? String(code);

/** Response headers: the request and correlation ids, as HTTP echoes them, plus any `extra`. */
export function contextHeaders(ctx: CallContext, extra: Record<string, string> = {}): Metadata {
  const md = new Metadata();
  md.set('x-request-id', ctx.requestId);
  md.set('x-correlation-id', ctx.correlationId);
  for (const [key, value] of Object.entries(extra)) md.set(key, value);
  return md;
}

function logOutcome(
  kit: CallKit,
  method: string,
  ctx: CallContext | undefined,
  err: LightdomError | undefined,
  ms: number,
) {
  const fields = { method, ms: Math.round(ms * 10) / 10, ...(ctx ? { correlationId: ctx.correlationId } : {}) };
  if (!err) kit.logger.info(fields, 'grpc call');
  else if (err.code === 'INTERNAL') kit.logger.error({ ...fields, err: err.cause ?? err }, 'grpc call failed');
  else kit.logger.info({ ...fields, code: err.code, detail: err.message }, 'grpc call rejected');
}

/**
 * A unary handler with the edge's common work: authenticate, read the correlation
 * metadata, echo `x-request-id` and `x-correlation-id`, map a failure to its status once,
 * log one line and count the call.
 */
export function unary<Req, Res>(
  kit: CallKit,
  method: string,
  handler: (request: Req, ctx: CallContext, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    let ctx: CallContext | undefined;
    (async () => {
      ctx = callContext(call.metadata, kit.app);
      call.sendMetadata(contextHeaders(ctx));
      return handler(call.request, ctx, call);
    })().then(
      (response) => {
        callback(null, response);
        const ms = performance.now() - started;
        logOutcome(kit, method, ctx, undefined, ms);
        kit.observe(method, 'OK', ms / 1000);
      },
      (raw: unknown) => {
        const err = toLightdomError(raw);
        const status = toServiceError(err);
        callback(status);
        const ms = performance.now() - started;
        logOutcome(kit, method, ctx, err, ms);
        kit.observe(method, statusName(status.code), ms / 1000);
      },
    );
  };
}

/**
 * A server-streaming handler. The handler sends the response headers (see
 * {@link contextHeaders}) once its stream is set up, then writes until it returns;
 * `signal` aborts when the client cancels or the server stops. A stream the server ends without the client
 * asking fails with UNAVAILABLE, so the client knows to resume from its last position.
 */
export function serverStream<Req, Res>(
  kit: CallKit,
  method: string,
  handler: (call: ServerWritableStream<Req, Res>, ctx: CallContext, signal: AbortSignal) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const started = performance.now();
    const abort = new AbortController();
    const onCancel = () => abort.abort();
    call.on('cancelled', onCancel);
    kit.streams.add(abort);
    let ctx: CallContext | undefined;
    (async () => {
      ctx = callContext(call.metadata, kit.app);
      await handler(call, ctx, abort.signal);
      if (!call.cancelled) {
        throw new LightdomError(
          'UNAVAILABLE',
          abort.signal.aborted ? 'The server is shutting down; resume from your last position' : 'The stream ended',
        );
      }
    })()
      .then(
        () => {
          logOutcome(kit, method, ctx, undefined, performance.now() - started);
          kit.observe(method, 'CANCELLED');
        },
        (raw: unknown) => {
          const err = toLightdomError(raw);
          const status = toServiceError(err);
          if (!call.cancelled) call.emit('error', status);
          logOutcome(kit, method, ctx, err, performance.now() - started);
          kit.observe(method, statusName(call.cancelled ? Status.CANCELLED : status.code));
        },
      )
      .finally(() => {
        kit.streams.delete(abort);
        call.off('cancelled', onCancel);
      });
  };
}
