import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ServiceProcess, spawnService, spawnTypeScript } from '@lightdom/testkit';
import type { Scope } from './types.js';

/**
 * With `--profile`: the directory each child started now writes its CPU profile into (set
 * per scenario by main.ts; see profilePreload.mjs); undefined otherwise.
 */
let profileDir: string | undefined;
export const setProfileDir = (dir: string | undefined): void => {
  profileDir = dir;
};
const preload = new URL('./profilePreload.mjs', import.meta.url).href;
const profileEnv = (name: string): Record<string, string> =>
  profileDir
    ? {
        // biome-ignore lint/suspicious/noUndeclaredEnvVars: the bench is not a turbo task, so turbo's cache never sees it.
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${preload}`.trim(),
        BENCH_PROFILE_FILE: `${profileDir}/${name}-{pid}.cpuprofile`,
      }
    : {};

/**
 * Starts a bench fixture (`bench/fixtures/<name>.ts`) the way spawnService starts a service:
 * node with the TypeScript loader, so its memory compares with the services'.
 */
export function spawnFixture(name: string, env: Record<string, string>): ServiceProcess {
  return spawnTypeScript(name, `bench/fixtures/${name}.ts`, env);
}

/** A service or fixture whose process the scope stops (SIGTERM, then SIGKILL after 5 s). */
export function startProcess(
  scope: Scope,
  kind: 'service' | 'fixture',
  name: string,
  env: Record<string, string>,
): ServiceProcess {
  const withProfile = { ...profileEnv(name), ...env };
  const proc = kind === 'service' ? spawnService(name, withProfile) : spawnFixture(name, withProfile);
  scope.defer(() => stopProcess(proc));
  return proc;
}

export async function stopProcess(proc: ServiceProcess): Promise<void> {
  await Promise.race([proc.kill('SIGTERM'), sleep(5000)]);
  await proc.kill('SIGKILL');
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** Peak resident memory of a live child process since it started, in MB (VmHWM). */
export const peakRssMb = (pid: number): number => statusField(pid, 'VmHWM');
/** Resident memory of a live child process now, in MB. */
export const rssMb = (pid: number): number => statusField(pid, 'VmRSS');

export const pidOf = (proc: ServiceProcess): number => {
  if (proc.child.pid === undefined) throw new Error('the process did not start');
  return proc.child.pid;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Why a child exited before it was ready; a port that something else holds is named in the
 * first line, since that is the usual cause on a shared machine.
 */
export function exitedError(proc: ServiceProcess): Error {
  const out = proc.output();
  const busy = /EADDRINUSE(?:: address already in use (\S*?:(\d+)))?/.exec(out);
  const head = busy
    ? `port ${busy[2] ?? '(see the output below)'} is held by another process (EADDRINUSE${busy[1] ? ` on ${busy[1]}` : ''}); free it or let the bench pick another`
    : `process exited (${proc.child.exitCode})`;
  return new Error(`${head}:\n${out.slice(-3000)}`);
}

/** Polls `url` until it answers 200; fails with the process output after `timeoutMs`. */
export async function waitForHttp(url: string, proc: ServiceProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw exitedError(proc);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 in ${timeoutMs} ms (${last}):\n${proc.output().slice(-3000)}`);
}

/** CPU time (user + system) a live process has used so far, in seconds (clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
