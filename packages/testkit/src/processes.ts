import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's place in it. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Node flags that run a service straight from its TypeScript sources. */
export const sourceNodeFlags = ['--conditions=lightdom-src', '--import', 'tsx'];

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  /** Resolves with the first output line that matches. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `packages/<name>/src/main.ts` as a real process with the given environment. */
export function spawnService(name: string, env: Record<string, string>): ServiceProcess {
  return spawnTypeScript(name, `packages/${name}/src/main.ts`, env);
}

/** Runs a TypeScript file of the repository (path relative to its root) as a real process. */
export function spawnTypeScript(name: string, entry: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, [...sourceNodeFlags, entry], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
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
