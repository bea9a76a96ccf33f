import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxBinary } from '../../faults/scale/nginx.js';

/**
 * deploy/nginx/release/*.conf (blue-green and canary through nginx) in a real nginx, in
 * front of two stand-in command-api colours that answer with their name.
 */
const releaseDir = join(repoRoot, 'deploy', 'nginx', 'release');
const snippetsDir = join(repoRoot, 'deploy', 'nginx', 'snippets');

const colour = (name: string): Promise<{ server: Server; port: number }> => {
  const server = createServer((_req, res) => res.end(name));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })),
  );
};
const freePort = async () => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
};

let prefix: string;
let nginx: ChildProcess;
let url: string;
let blue: Awaited<ReturnType<typeof colour>>;
let green: Awaited<ReturnType<typeof colour>>;

beforeAll(async () => {
  [blue, green] = await Promise.all([colour('blue'), colour('green')]);
  prefix = mkdtempSync(join(tmpdir(), 'lightdom-nginx-release-'));
  cpSync(snippetsDir, join(prefix, 'snippets'), { recursive: true });
  cpSync(releaseDir, join(prefix, 'release'), { recursive: true });
  // Compose's / Kubernetes' service names become the stand-ins' loopback ports.
  const colours = join(prefix, 'release', 'colours.conf');
  writeFileSync(
    colours,
    readFileSync(colours, 'utf8')
      .replace('command-api-blue:3001', `127.0.0.1:${blue.port}`)
      .replace('command-api-green:3001', `127.0.0.1:${green.port}`),
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${prefix}/client-body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    include ${prefix}/snippets/upgrade-map.conf;
    include ${prefix}/release/*.conf;
    server {
        listen 127.0.0.1:${port};
        location / {
            include ${prefix}/snippets/api-proxy.conf;
            add_header X-Lightdom-Colour $lightdom_api_colour always;
            proxy_pass http://$lightdom_api_upstream;
        }
    }
}
`,
  );
  const args = ['-p', prefix, '-c', join(prefix, 'nginx.conf')];
  execFileSync(nginxBinary(), ['-t', '-q', ...args], { stdio: 'pipe' });
  nginx = spawn(nginxBinary(), args, { stdio: 'ignore' });
  for (
    let t = 0;
    (await fetch(`${url}/`).then(
      (r) => r.status,
      () => 0,
    )) !== 200;
    t++
  ) {
    if (t > 200 || nginx.exitCode !== null)
      throw new Error(`nginx did not answer: ${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  blue?.server.close();
  green?.server.close();
  if (prefix) rmSync(prefix, { recursive: true, force: true });
});

const ask = async (headers: Record<string, string> = {}) => {
  const res = await fetch(`${url}/api/x`, { headers });
  const body = await res.text();
  expect(res.headers.get('x-lightdom-colour')).toBe(body);
  return body;
};

describe('deploy/nginx/release: blue-green and canary through nginx', () => {
  it('sends the canary share of callers to the other colour, each caller sticking to one', async () => {
    let toGreen = 0;
    const callers = 300;
    for (let i = 0; i < callers; i++) if ((await ask({ authorization: `Bearer caller-${i}` })) === 'green') toGreen++;
    // 10% configured; hashing 300 callers lands near it.
    expect(toGreen / callers).toBeGreaterThan(0.03);
    expect(toGreen / callers).toBeLessThan(0.2);
    for (const caller of ['caller-1', 'caller-2', 'caller-3', 'caller-4']) {
      const seen = new Set<string>();
      for (let i = 0; i < 5; i++) seen.add(await ask({ authorization: `Bearer ${caller}` }));
      expect(seen.size, caller).toBe(1);
    }
    expect(await ask({ 'x-canary': 'always' })).toBe('green');
    expect(await ask({ 'x-canary': 'never', authorization: 'Bearer caller-1' })).toBe('blue');
  });

  it('switches the live colour with live.conf and a reload, and the canary then points back', async () => {
    const live = join(prefix, 'release', 'live.conf');
    writeFileSync(live, readFileSync(live, 'utf8').replace('default blue;', 'default green;'));
    execFileSync(nginxBinary(), ['-t', '-q', '-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'pipe' });
    nginx.kill('SIGHUP');
    await expect.poll(() => ask({ 'x-canary': 'never' }), { timeout: 10_000, interval: 100 }).toBe('green');
    expect(await ask({ 'x-canary': 'always' })).toBe('blue');
    let toBlue = 0;
    for (let i = 0; i < 100; i++) if ((await ask({ authorization: `Bearer caller-${i}` })) === 'blue') toBlue++;
    expect(toBlue).toBeLessThan(25);
  });
});
