import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '@lightdom/testkit';
import { freePort, listening } from '../lib/ports.js';

export interface NginxUpstream {
  httpPort: number;
  grpcPort: number;
}

export interface RunningNginx {
  /** Base URL of the HTTP/WebSocket side, e.g. `http://127.0.0.1:40100`. */
  url: string;
  /** `127.0.0.1:<port>` of the cleartext gRPC (h2c) side. */
  grpcAddress: string;
  /** The rendered nginx.conf (for failure messages). */
  configFile: string;
  stop(): Promise<void>;
}

const nginxDir = join(repoRoot, 'deploy', 'nginx');

/** Debian's nginx (`apt-get install nginx`), in /usr/sbin, which is not on every PATH. */
export function nginxBinary(): string {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the fault suite is no turbo task
  const fromEnv = process.env.NGINX_BIN;
  if (fromEnv) return fromEnv;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

/**
 * Fills deploy/nginx/scale.conf.template for the given command-api instances and copies
 * the shared snippets beside it, in a fresh prefix directory. Returns the config's path.
 */
export function renderScaleConfig(prefix: string, ports: { http: number; grpc: number }, upstreams: NginxUpstream[]) {
  cpSync(join(nginxDir, 'snippets'), join(prefix, 'snippets'), { recursive: true });
  const servers = (port: (u: NginxUpstream) => number) =>
    upstreams.map((u) => `        server 127.0.0.1:${port(u)} max_fails=1 fail_timeout=3s;`).join('\n');
  const conf = readFileSync(join(nginxDir, 'scale.conf.template'), 'utf8')
    // nginx started by root runs its workers as `nobody` unless told otherwise; they must
    // write into the prefix directory the harness owns.
    .replaceAll('{{USER}}', process.getuid?.() === 0 ? 'user root;' : '')
    .replaceAll('{{PREFIX}}', prefix)
    .replaceAll('{{HTTP_PORT}}', String(ports.http))
    .replaceAll('{{GRPC_PORT}}', String(ports.grpc))
    .replaceAll(
      '{{API_SERVERS}}',
      servers((u) => u.httpPort),
    )
    .replaceAll(
      '{{GRPC_SERVERS}}',
      servers((u) => u.grpcPort),
    );
  const left = conf.match(/\{\{[A-Z_]+\}\}/);
  if (left) throw new Error(`scale.conf.template: placeholder ${left[0]} is not filled in`);
  const file = join(prefix, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}

/**
 * A real nginx on two free loopback ports in front of the given command-api instances:
 * the config is checked with `nginx -t` first, then nginx runs in the foreground as a
 * child of the harness.
 */
export async function startNginx(upstreams: NginxUpstream[]): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'lightdom-nginx-'));
  const ports = { http: await freePort(), grpc: await freePort() };
  const configFile = renderScaleConfig(prefix, ports, upstreams);
  const bin = nginxBinary();
  const args = ['-p', prefix, '-c', configFile];
  try {
    execFileSync(bin, ['-t', '-q', ...args], { stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    rmSync(prefix, { recursive: true, force: true });
    throw new Error(`nginx -t refused ${configFile}: ${e.stderr?.toString() ?? e.message} (apt-get install nginx)`);
  }
  const child: ChildProcess = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  for (let t = 0; !(await listening(ports.http)) || !(await listening(ports.grpc)); t++) {
    if (child.exitCode !== null || t > 100) {
      const log = existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8') : '';
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on ${ports.http}/${ports.grpc}: ${log.slice(-2000)}`);
    }
    await sleep(50);
  }
  return {
    url: `http://127.0.0.1:${ports.http}`,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    configFile,
    async stop() {
      // SIGTERM is nginx's fast shutdown; the master takes its workers with it.
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
