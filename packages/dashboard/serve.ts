/**
 * The dashboard's server: the built files (`dist/`) and, on the same origin, `/api/*` and
 * `/ws` passed through to the command-api. One origin means no CORS, and the WebSocket's
 * `Origin` is the dashboard's own, which the API's `WS_ALLOWED_ORIGINS` lists.
 *
 *   node --import tsx packages/dashboard/serve.ts          # PORT=3000, LIGHTDOM_API_URL=http://127.0.0.1:3001
 *   node --import tsx packages/dashboard/serve.ts --dev    # the Vite dev server instead (same proxy)
 *
 * See docs/dashboard.md.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DashboardServerOptions {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Listen address. Default 127.0.0.1 (the stack listens on loopback only). */
  host?: string;
  /** The command-api, e.g. `http://127.0.0.1:3001`. */
  apiUrl: string;
  /** The built files. Default `dist/` beside this file. */
  distDir?: string;
}

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Headers a page must not pass to the API beyond what it asked (hop-by-hop ones). */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

const isApiPath = (url: string) => url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');
const isFeedPath = (url: string) => url === '/ws' || url.startsWith('/ws?');

function proxyHttp(req: http.IncomingMessage, res: http.ServerResponse, api: URL): void {
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !hopByHop.has(k)));
  const upstream = http.request(
    { hostname: api.hostname, port: api.port, path: req.url, method: req.method, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { 'content-type': 'application/problem+json' });
    res.end(
      JSON.stringify({
        type: 'about:blank',
        title: 'Bad Gateway',
        status: 502,
        code: 'UNAVAILABLE',
        retryable: true,
        detail: 'The API does not answer',
      }),
    );
  });
  req.pipe(upstream);
}

/** Passes the upgrade request and then the raw bytes both ways; the API does the WebSocket handshake. */
function proxyUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, api: URL): void {
  const upstream = net.connect(Number(api.port || 80), api.hostname, () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  const end = () => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', end);
  socket.on('error', end);
  upstream.on('close', end);
  socket.on('close', end);
}

function serveFile(req: http.IncomingMessage, res: http.ServerResponse, distDir: string): void {
  const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const file = path.resolve(distDir, `.${pathname}`);
  // Anything outside dist/, or not a file, is the single page (client-side routes use the hash).
  const inside = file.startsWith(distDir + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile();
  const target = inside ? file : path.join(distDir, 'index.html');
  const ext = path.extname(target);
  res.writeHead(200, {
    'content-type': contentTypes[ext] ?? 'application/octet-stream',
    // Hashed asset names never change; the page itself must always be fresh.
    'cache-control': target.includes(`${path.sep}assets${path.sep}`)
      ? 'public, max-age=31536000, immutable'
      : 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  fs.createReadStream(target).pipe(res);
}

/** Serves dist/ and proxies /api and /ws to the API. */
export async function startDashboardServer(options: DashboardServerOptions): Promise<DashboardServer> {
  const api = new URL(options.apiUrl);
  const distDir = path.resolve(options.distDir ?? path.join(here, 'dist'));
  if (!fs.existsSync(path.join(distDir, 'index.html'))) {
    throw new Error(
      `${distDir}/index.html does not exist: build the dashboard first (npm run build -w @lightdom/dashboard)`,
    );
  }
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (isApiPath(url)) return proxyHttp(req, res, api);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      return void res.end();
    }
    serveFile(req, res, distDir);
  });
  server.on('upgrade', (req, socket: net.Socket, head) => {
    if (isFeedPath(req.url ?? '')) proxyUpgrade(req, socket, head, api);
    else socket.destroy();
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const apiUrl = process.env.LIGHTDOM_API_URL ?? 'http://127.0.0.1:3001';
  if (process.argv.includes('--dev')) {
    const { createServer } = await import('vite');
    const vite = await createServer({ root: here, configFile: path.join(here, 'vite.config.ts') });
    await vite.listen();
    console.log(`dashboard (vite dev server): http://localhost:${port}/  (API ${apiUrl})`);
    return;
  }
  const server = await startDashboardServer({ port, apiUrl, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
  console.log(`dashboard: ${server.url}/  (API ${apiUrl})`);
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => void server.close().then(() => process.exit(0)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`dashboard: ${(err as Error).message}`);
    process.exit(1);
  });
}
