import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

/**
 * A request's logger without a pino child per request. fastify asks for one child per
 * request (its `reqId`) and we bound the correlation id on top: two `child()` calls, each
 * copying bindings and rebuilding the level methods, on every request, whether it logs or
 * not (issue 12's profile: about 4 % of the command-api's busy time).
 *
 * A call at a disabled level costs a comparison. A call with a plain object (the usual
 * `log.info({…}, 'msg')`) is written through the parent with the bindings first, which is
 * the same JSON a child would write (a child puts its bindings before the object's keys).
 * Anything else (an Error or a string first, `child()`, a level change) builds the real
 * child once and delegates to it from then on.
 */
class LazyRequestLogger {
  #real: Logger | undefined;
  constructor(
    private readonly parent: Logger,
    private readonly bound: Bindings,
  ) {}

  #child(): Logger {
    this.#real ??= this.parent.child(this.bound);
    return this.#real;
  }

  #write(level: Level, args: unknown[]): void {
    const real = this.#real;
    if (real) return void (real[level] as (...a: unknown[]) => void)(...args);
    if (!this.parent.isLevelEnabled(level)) return;
    const [first, ...rest] = args;
    if (isPlainObject(first)) {
      (this.parent[level] as (...a: unknown[]) => void)({ ...this.bound, ...first }, ...rest);
    } else {
      (this.#child()[level] as (...a: unknown[]) => void)(...args);
    }
  }

  get level(): string {
    return (this.#real ?? this.parent).level;
  }
  set level(l: string) {
    this.#child().level = l;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#real ?? this.parent).isLevelEnabled(level);
  }
  bindings(): Bindings {
    return this.#child().bindings();
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#child().child(bindings, options);
  }
  silent(): void {}
  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.#write('error', args);
  }
  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }
  info(...args: unknown[]): void {
    this.#write('info', args);
  }
  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }
}

/**
 * fastify's `childLoggerFactory`: the request's logger with `reqId` and whatever
 * `moreBindings` adds (the correlation id), built lazily. Route-level log options (a level or
 * serializers) get a real pino child, as fastify's default factory would build.
 */
export function lazyChildLoggerFactory(moreBindings: (reqId: unknown, headers: unknown) => Bindings) {
  return (
    logger: FastifyBaseLogger,
    bindings: Bindings,
    opts: ChildLoggerOptions,
    rawReq: { headers: unknown },
  ): FastifyBaseLogger => {
    const all = { ...bindings, ...moreBindings(bindings.reqId, rawReq.headers) };
    if (opts.level !== undefined || opts.serializers !== undefined) return logger.child(all, opts);
    return new LazyRequestLogger(logger as Logger, all) as unknown as FastifyBaseLogger;
  };
}
