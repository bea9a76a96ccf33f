import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { nginxBinary, type RunningNginx, startNginx } from '../../faults/scale/nginx.js';

const nginxDir = join(repoRoot, 'deploy', 'nginx');

/** `nginx -t` on a config; returns what nginx said (throws with it when refused). */
function nginxTest(prefix: string, conf: string): string {
  try {
    return execFileSync(nginxBinary(), ['-t', '-p', prefix, '-c', conf], { stdio: 'pipe' }).toString();
  } catch (err) {
    throw new Error(`nginx -t refused ${conf}: ${(err as { stderr?: Buffer }).stderr?.toString()}`);
  }
}

describe('deploy/nginx', () => {
  it('nginx -t accepts the deployed config (nginx.conf + conf.d + snippets, TLS on 443)', () => {
    const prefix = mkdtempSync(join(tmpdir(), 'lightdom-nginx-t-'));
    try {
      cpSync(nginxDir, prefix, { recursive: true });
      // The container's paths become the prefix; service names (resolved by compose's or
      // Kubernetes' DNS) become loopback, since nginx -t resolves upstream hosts.
      const relocate = (file: string) =>
        writeFileSync(
          file,
          readFileSync(file, 'utf8')
            .replaceAll(' /tmp/nginx', ` ${prefix}/nginx`)
            // A test's stdio is a pipe, which nginx cannot reopen as a log file.
            .replaceAll('/dev/stderr', `${prefix}/error.log`)
            .replaceAll('/dev/stdout', `${prefix}/access.log`)
            .replaceAll('/etc/nginx/', `${prefix}/`)
            .replace(/server (command-api|dashboard):/g, 'server 127.0.0.1:'),
        );
      cpSync('/etc/nginx/mime.types', join(prefix, 'mime.types'));
      mkdirSync(join(prefix, 'tls'));
      relocate(join(prefix, 'nginx.conf'));
      relocate(join(prefix, 'conf.d', 'lightdom.conf'));
      // A throwaway self-signed pair where the deployment mounts its own.
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
          ...['-keyout', join(prefix, 'tls', 'tls.key'), '-out', join(prefix, 'tls', 'tls.crt')],
        ],
        { stdio: 'pipe' },
      );
      expect(() => nginxTest(prefix, join(prefix, 'nginx.conf'))).not.toThrow();
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });
});

/** A stand-in upstream: answers HTTP with its name and echoes WebSocket frames with it. */
function upstream(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, url: req.url, forwardedFor: req.headers['x-forwarded-for'] ?? null }));
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${m}`)));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

describe('the scale harness nginx (deploy/nginx/scale.conf.template)', () => {
  let a: Awaited<ReturnType<typeof upstream>>;
  let b: Awaited<ReturnType<typeof upstream>>;
  let nginx: RunningNginx;
  beforeAll(async () => {
    [a, b] = await Promise.all([upstream('a'), upstream('b')]);
    nginx = await startNginx([
      { httpPort: a.port, grpcPort: a.port },
      { httpPort: b.port, grpcPort: b.port },
    ]);
  });
  afterAll(async () => {
    await nginx?.stop();
    a?.server.close();
    b?.server.close();
  });

  const who = async () => ((await (await fetch(`${nginx.url}/api/x`)).json()) as { name: string }).name;

  it('balances HTTP over both instances and upgrades WebSockets', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add(await who());
    expect([...names].sort()).toEqual(['a', 'b']);

    const ws = new WebSocket(`${nginx.url.replace('http', 'ws')}/ws`);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const echoed = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
    ws.send('hello');
    expect(await echoed).toMatch(/^(a|b):hello$/);
    ws.close();
  });

  it('sends every request to the live instance once one is gone', async () => {
    b.server.closeAllConnections();
    await new Promise((r) => b.server.close(r));
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(await who());
    expect(names).toEqual(['a', 'a', 'a', 'a', 'a', 'a']);
  });
});
