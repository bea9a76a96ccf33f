import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import { type BackingName, defaultPorts, hostPort } from './config.js';

/**
 * Whether a server answers: `up`, `down` (nothing listens, so we may start one), or
 * `wrong` (something listens but it is not the server we want, or it refuses us).
 */
export type Answer =
  | { state: 'up'; note?: string }
  | { state: 'down'; reason: string }
  | { state: 'wrong'; reason: string };

const down = (reason: string): Answer => ({ state: 'down', reason });
const wrong = (reason: string): Answer => ({ state: 'wrong', reason });

/** Connection errors that mean "nobody is listening (yet)". */
const notListening = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

function classify(err: unknown): Answer {
  const e = err as NodeJS.ErrnoException;
  if (e.code && notListening.has(e.code)) return down(e.code === 'ECONNREFUSED' ? 'connection refused' : e.code);
  if (/timeout|timed out/i.test(e.message ?? '')) return down('no answer (timeout)');
  return wrong(e.message || String(err));
}

/**
 * Connects, optionally sends `request`, and collects what the server says until `done`
 * returns true. TLS is used when `secure` (for rediss:// URLs).
 */
function exchange(
  target: { host: string; port: number; secure?: boolean },
  request: string | undefined,
  done: (received: string) => boolean,
  timeoutMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = target.secure
      ? tls.connect({ host: target.host, port: target.port, servername: target.host })
      : net.connect({ host: target.host, port: target.port });
    let received = '';
    let connected = false;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(received);
    };
    // Connected but silent is not "down": something that is not our server holds the port.
    const timeout = () =>
      connected
        ? new Error('something listens there but says nothing')
        : Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    const timer = setTimeout(() => finish(timeout()), timeoutMs);
    socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      connected = true;
      if (request) socket.write(request);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (done(received)) finish();
    });
    socket.once('error', finish);
    socket.once('close', () =>
      finish(received ? undefined : Object.assign(new Error('closed'), { code: 'ECONNRESET' })),
    );
  });
}

/** NATS greets every client with an `INFO {json}` line; JetStream servers say `"jetstream":true` in it. */
export async function checkNats(url: string): Promise<Answer> {
  let last: Answer = down('no server in URL');
  // NATS_URL may list several servers; one that answers is enough, as for the client.
  for (const one of url.split(',')) {
    const target = hostPort(one, defaultPorts.nats);
    try {
      const greeting = (await exchange(target, undefined, (r) => r.includes('\r\n'))).split('\r\n')[0]!;
      if (!greeting.startsWith('INFO '))
        return wrong(`something listens there but does not speak NATS (it said "${greeting.slice(0, 40)}")`);
      const info = JSON.parse(greeting.slice(5)) as { jetstream?: boolean; version?: string };
      if (!info.jetstream)
        return wrong(`nats-server ${info.version ?? ''} runs there without JetStream (start it with -js)`);
      return { state: 'up', note: `nats-server ${info.version ?? '?'}` };
    } catch (err) {
      last = classify(err);
    }
  }
  return last;
}

/** One Redis command in RESP form, so passwords with spaces or quotes survive. */
const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Redis answers `PING` with `+PONG`; an AUTH goes first when the URL carries a password. */
export async function checkRedis(url: string): Promise<Answer> {
  const u = new URL(url);
  const target = { ...hostPort(url, defaultPorts.redis), secure: u.protocol === 'rediss:' };
  const password = decodeURIComponent(u.password);
  const user = decodeURIComponent(u.username);
  const commands = password ? [resp('AUTH', ...(user ? [user] : []), password), resp('PING')] : [resp('PING')];
  try {
    const replies = (await exchange(target, commands.join(''), (r) => r.split('\r\n').length > commands.length))
      .split('\r\n')
      .slice(0, commands.length);
    const failed = replies.find((r) => r.startsWith('-'));
    if (failed) return wrong(`Redis refused us: ${failed.slice(1)}`);
    if (replies.at(-1) !== '+PONG')
      return wrong(`something listens there but does not speak Redis (it said "${replies[0]?.slice(0, 40)}")`);
    return { state: 'up' };
  } catch (err) {
    return classify(err);
  }
}

/** Postgres answers `select 1`. A missing database still means the server is up. */
export async function checkPostgres(url: string): Promise<Answer> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return { state: 'up' };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '3D000') return { state: 'up', note: 'database missing' };
    // The server is starting up or shutting down: not ready yet, but not something else either.
    if (code === '57P03') return down('the database system is starting up');
    const answer = classify(err);
    return answer.state === 'wrong' ? wrong(`Postgres refused us: ${answer.reason}`) : answer;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const checks: Record<BackingName, (url: string) => Promise<Answer>> = {
  nats: checkNats,
  postgres: checkPostgres,
  redis: checkRedis,
};

/**
 * Creates the database named in the URL. The projector does this too, but the other
 * services may connect first, so the stack should not depend on who wins that race.
 */
export async function createDatabase(url: string): Promise<string> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const client = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`create database "${name.replaceAll('"', '""')}"`);
  } catch (err) {
    // 42P04: someone (the projector) created it in the meantime, which is what we wanted.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
  return name;
}

/** Whether something accepts TCP connections on a local port. */
export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** GETs a local URL and returns the status code, or undefined when nothing answers. */
export async function httpStatus(
  url: string,
  timeoutMs = 1000,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}
