import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, type ServiceProcess, sourceNodeFlags, spawnService } from '@lightdom/testkit';
import type { Scope } from './types.js';

/**
 * Starts a bench fixture (`bench/fixtures/<name>.ts`) the way spawnService starts a service:
 * node with the TypeScript loader, so its memory compares with the services'.
 */
export function spawnFixture(name: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [...sourceNodeFlags, `bench/fixtures/${name}.ts`], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.pattern.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitForLine(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line) return resolve(line);
        const timer = setTimeout(
          () =>
            reject(new Error(`${name} printed no line matching ${pattern} in ${timeoutMs} ms:\n${out.slice(-3000)}`)),
          timeoutMs,
        );
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before printing ${pattern}:\n${out.slice(-3000)}`));
        });
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** A service or fixture whose process the scope stops (SIGTERM, then SIGKILL after 5 s). */
export function startProcess(
  scope: Scope,
  kind: 'service' | 'fixture',
  name: string,
  env: Record<string, string>,
): ServiceProcess {
  const proc = kind === 'service' ? spawnService(name, env) : spawnFixture(name, env);
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

/** Polls `url` until it answers 200; fails with the process output after `timeoutMs`. */
export async function waitForHttp(url: string, proc: ServiceProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}):\n${proc.output()}`);
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
