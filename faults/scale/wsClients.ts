import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredCommit } from '@lightdom/domain';
import WebSocket from 'ws';
import { type CheckResult, check, firstOf } from '../checks/check.js';

interface Received {
  position: number;
  index: number;
}

interface FeedClient {
  name: string;
  received: Received[];
  /** Sockets that closed under it (an instance died) after which it subscribed again. */
  resumes: number;
  errors: string[];
}

/**
 * WebSocket clients of the live feed through nginx, the way a dashboard uses it: each
 * subscribes to the whole log from position 0 and, whenever its socket closes, connects
 * again (nginx picks a live instance) and resumes after the last event it received.
 */
export function startFeedClients(baseUrl: string, count: number) {
  const url = `${baseUrl.replace(/^http/, 'ws')}/ws`;
  let running = true;
  const sockets = new Set<WebSocket>();
  const clients: FeedClient[] = Array.from({ length: count }, (_, i) => ({
    name: `ws-${i + 1}`,
    received: [],
    resumes: 0,
    errors: [],
  }));

  /** One socket's life; resolves when it closed. */
  function connectOnce(c: FeedClient): Promise<void> {
    return new Promise((resolve) => {
      // A service client: credentials on the upgrade (any token while AUTH=off), no Origin.
      const ws = new WebSocket(url, { headers: { authorization: 'Bearer scale-check' } });
      sockets.add(ws);
      ws.on('open', () => {
        const last = c.received.at(-1);
        ws.send(
          JSON.stringify(
            last
              ? { op: 'subscribe', id: 's', after: last.position, afterIndex: last.index }
              : { op: 'subscribe', id: 's', after: 0 },
          ),
        );
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as {
          op?: string;
          event?: { position: number; index: number };
          error?: { code: string; message: string };
        };
        if (frame.op === 'event' && frame.event) {
          c.received.push({ position: Number(frame.event.position), index: Number(frame.event.index) });
        } else if (frame.op === 'error') {
          c.errors.push(`${frame.error?.code}: ${frame.error?.message}`);
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        sockets.delete(ws);
        resolve();
      });
    });
  }

  const done = Promise.all(
    clients.map(async (c) => {
      let first = true;
      while (running) {
        if (!first) c.resumes++;
        first = false;
        await connectOnce(c);
        if (running) await sleep(200);
      }
    }),
  );

  return {
    clients,
    /** Waits until every client has received up to `head`, then closes them. */
    async stop(head: number, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && clients.some((c) => (c.received.at(-1)?.position ?? 0) < head)) {
        await sleep(200);
      }
      running = false;
      for (const ws of sockets) ws.close();
      await done;
    },
  };
}

export type FeedClients = ReturnType<typeof startFeedClients>;

/**
 * Every client must hold exactly the log's events in log order — each (position, index)
 * once — across every reconnect; and the kills must have cut at least one socket, or the
 * check proves nothing about resuming.
 */
export function feedChecks(feed: FeedClients, commits: StoredCommit[]): CheckResult[] {
  const expected: Received[] = commits.flatMap((c) => c.events.map((_, index) => ({ position: c.position, index })));
  const key = (r: Received) => `${r.position}/${r.index}`;
  const problems: string[] = [];
  for (const c of feed.clients) {
    const got = c.received;
    const firstWrong = expected.findIndex((e, i) => got[i] === undefined || key(got[i]!) !== key(e));
    if (firstWrong !== -1 || got.length !== expected.length) {
      const at = firstWrong === -1 ? expected.length : firstWrong;
      problems.push(
        `${c.name}: ${got.length} events for ${expected.length} in the log; first difference at #${at}: expected ${expected[at] ? key(expected[at]) : 'nothing'}, got ${got[at] ? key(got[at]) : 'nothing'} (${c.resumes} resumes${c.errors.length ? `, errors ${c.errors.slice(0, 2).join('; ')}` : ''})`,
      );
    }
  }
  const resumes = feed.clients.reduce((n, c) => n + c.resumes, 0);
  return [
    check(
      'every WebSocket client through nginx got every event of the log once, in order, across its reconnects',
      problems.length === 0,
      problems.length === 0
        ? `${feed.clients.length} clients × ${expected.length} events, ${resumes} resumes after a socket was cut`
        : firstOf(problems, 3, (p) => p),
    ),
    check(
      'the kills cut WebSocket connections, which resumed through nginx',
      resumes > 0,
      `${resumes} resumes (${feed.clients.map((c) => `${c.name} ${c.resumes}`).join(', ')})`,
    ),
  ];
}
