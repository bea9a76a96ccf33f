import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, BlockList } from 'node:net';
import { type Connector, type ConnectTarget, directConnector, type Resolver } from '@lightdom/executor';
import type { NatsTestEnv } from '@lightdom/testkit';

/** A loopback HTTP server whose handler answers each request; every request is counted by path. */
export async function startTarget(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const requests: { path: string; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => handle(req, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    to: (path: string) => requests.filter((r) => r.path === path),
    async close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/**
 * A connector that records every connection the executor opens and refuses (throws,
 * without opening anything) any that is not loopback: the tests' guarantee that no
 * traffic leaves the machine even if the policy under test were broken.
 */
export function countingConnector() {
  const attempts: ConnectTarget[] = [];
  const connect: Connector = (target) => {
    attempts.push(target);
    if (!loopback.check(target.address, target.family === 6 ? 'ipv6' : 'ipv4')) {
      throw new Error(`test guard: refusing to open a connection to ${target.address}`);
    }
    return directConnector(target);
  };
  return { attempts, connect };
}

/** A resolver with fixed answers that never asks DNS; counts lookups. */
export function fixedResolver(answers: Record<string, string[]>) {
  const lookups: string[] = [];
  const resolve: Resolver = async (host) => {
    lookups.push(host);
    const found = answers[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);
  };
  return { lookups, resolve };
}

/** Every byte the stream holds (message data and headers), for searching it for a secret. */
export async function streamBytes(env: NatsTestEnv): Promise<Buffer> {
  const info = await env.jsm.streams.info(env.stream);
  const parts: Buffer[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await env.jsm.streams.getMessage(env.stream, { seq }).catch(() => null);
    if (!m) continue;
    parts.push(Buffer.from(m.data));
    if (m.header) for (const [k, v] of m.header) parts.push(Buffer.from(`${k}: ${v.join(',')}\n`));
  }
  return Buffer.concat(parts);
}
