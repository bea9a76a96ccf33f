import { lookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { errorBodyPrefix } from '../activities/httpOutput.js';
import type { EgressPolicy } from './addressPolicy.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** Where a request's connection goes: an address the policy checked, never a name. */
export interface ConnectTarget {
  address: string;
  family: 4 | 6;
  port: number;
  tls: boolean;
  /** TLS server name (the URL's host name; absent for an IP literal). */
  servername?: string;
}

/** Opens the connection of one request. */
export type Connector = (target: ConnectTarget) => Duplex;

export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export const directConnector: Connector = (t) =>
  t.tls
    ? tls.connect({
        host: t.address,
        port: t.port,
        ALPNProtocols: ['http/1.1'],
        ...(t.servername ? { servername: t.servername } : {}),
      })
    : net.connect({ host: t.address, port: t.port });

/** The egress policy refused a URL: a failure for good, decided before any connection. */
export class EgressRefused extends Error {}

export interface EgressDeps {
  policy: EgressPolicy;
  resolve: Resolver;
  connect: Connector;
}

export interface EgressRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** Header names (lower case) dropped when a redirect leaves the URL's origin: credentials. */
  originBound: ReadonlySet<string>;
  maxRedirects: number;
  signal: AbortSignal;
}

export interface EgressResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that answered (after redirects). */
  url: URL;
}

const defaultPort = (url: URL) => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * The address to connect to for `url`: resolved once, every address checked, and the
 * first one pinned, so a second DNS answer (rebinding) can never change where the
 * connection goes. A host that `HTTP_STEP_ALLOW` names is trusted whatever it resolves to.
 */
export async function pinnedTarget(url: URL, deps: Pick<EgressDeps, 'policy' | 'resolve'>): Promise<ConnectTarget> {
  const host = bareHost(url);
  const port = defaultPort(url);
  const literal = isIP(host);
  const addresses: ResolvedAddress[] = literal ? [{ address: host, family: literal === 6 ? 6 : 4 }] : [];
  if (!literal) {
    try {
      addresses.push(...(await deps.resolve(host)));
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw Object.assign(new Error(`cannot resolve ${host}: ${code}`), { retryable: true });
    }
    if (addresses.length === 0) throw Object.assign(new Error(`cannot resolve ${host}`), { retryable: true });
  }
  if (literal || !deps.policy.allowsHost(host, port)) {
    for (const a of addresses) {
      const refusal = deps.policy.refusal(a.address, port);
      if (refusal) {
        const via = literal ? '' : `${host} resolves to `;
        throw new EgressRefused(`egress refused for ${url.protocol}//${url.host}: ${via}${refusal}`);
      }
    }
  }
  const first = addresses[0]!;
  const tlsOn = url.protocol === 'https:';
  return {
    address: first.address,
    family: first.family,
    port,
    tls: tlsOn,
    ...(tlsOn && !literal ? { servername: host } : {}),
  };
}

function send(req: EgressRequest, url: URL, target: ConnectTarget, connect: Connector): Promise<EgressResponse> {
  const client = target.tls ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: { ...req.headers, host: url.host },
      signal: req.signal,
      createConnection: () => connect(target) as net.Socket,
    });
    // Kept for the request's whole life: an error after the response (an abort) must not go unhandled.
    request.on('error', reject);
    request.once('response', (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }));
    request.end(req.body);
  });
}

const redirects = new Set([301, 302, 303, 307, 308]);

/** A Location header, as the target sent it, made safe to quote in a step's error. */
const quoted = (location: string) => errorBodyPrefix(Buffer.from(location), 200);

/**
 * Sends a request through the egress policy, following redirects by hand (each hop is
 * resolved and checked before its connection is opened) up to `maxRedirects`. 303, and
 * 301/302 after a POST, continue as GET without a body, as browsers do; credentials
 * (`originBound` headers) are dropped when a redirect leaves the first URL's origin.
 * Throws EgressRefused for a refused hop or too many redirects.
 */
export async function egressFetch(req: EgressRequest, deps: EgressDeps): Promise<EgressResponse> {
  let url = req.url;
  let { method, body } = req;
  let headers = { ...req.headers };
  for (let hop = 0; ; hop++) {
    const target = await pinnedTarget(url, deps);
    const res = await send({ ...req, method, body, headers }, url, target, deps.connect);
    const location = res.headers.location;
    if (!redirects.has(res.status) || !location) return res;
    res.body.destroy();
    if (hop >= req.maxRedirects) {
      throw new EgressRefused(
        `more than ${req.maxRedirects} redirects (HTTP_STEP_MAX_REDIRECTS), last to ${quoted(location)}`,
      );
    }
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new EgressRefused(`redirect to an invalid URL: ${quoted(location)}`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new EgressRefused(`redirect to a URL that is not http or https: ${next.protocol}`);
    }
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      if (method !== 'HEAD') method = 'GET';
      body = undefined;
      headers = Object.fromEntries(
        Object.entries(headers).filter(([k]) => k !== 'content-type' && k !== 'content-length'),
      );
    }
    if (next.origin !== req.url.origin) {
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !req.originBound.has(k)));
    }
    url = next;
  }
}

/** A response body over the limit; the connection is cut when it is reached. */
export class BodyTooLarge extends Error {}

/** Reads a body, at most `limit` bytes: reading stops (and the connection is cut) past it. */
export async function readBody(body: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) {
      body.destroy();
      throw new BodyTooLarge(
        `the response body is larger than ${limit} bytes (HTTP_STEP_MAX_RESPONSE_BYTES); it was not read further`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
