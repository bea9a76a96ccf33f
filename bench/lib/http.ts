import autocannon from 'autocannon';
import { summarize } from './stats.js';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  body?: unknown;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  connections: number;
  durationSeconds: number;
}

export interface LoadRun {
  ok: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /** Latency of every 2xx answer, in ms (autocannon's own histogram keeps whole ms only). */
  latenciesMs: number[];
}

/** Drives `url` with autocannon: a fixed number of connections, one request in flight on each. */
export async function drive(opts: LoadOptions): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: opts.method,
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationSeconds,
        headers: { 'content-type': 'application/json', ...opts.headers },
        ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latenciesMs.push(ms);
    });
  });
  return { ok: result['2xx'], non2xx: result.non2xx, errors: result.errors, seconds: result.duration, latenciesMs };
}

export interface LoadSummary {
  /** 2xx answers per second over all runs. */
  rate: number;
  ok: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarizeLoad(runs: LoadRun[]): LoadSummary {
  const ok = runs.reduce((n, r) => n + r.ok, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const lat = summarize(runs.flatMap((r) => r.latenciesMs));
  return {
    rate: ok / seconds,
    ok,
    failed: runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
    p50: lat.p50,
    p99: lat.p99,
    max: lat.max,
  };
}
