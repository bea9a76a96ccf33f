import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';
import { repoRoot, type ServiceSpec } from './config.js';
import { say, serviceLine, UserError, warn } from './output.js';
import { httpStatus } from './probes.js';
import { exited, signal, sleep } from './servers.js';

/** How long a service may take to answer /health; the first run compiles TypeScript on 2 cores. */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
const healthTimeoutMs = Number(process.env.LIGHTDOM_START_TIMEOUT_MS ?? 90_000);
/** SIGTERM first; a service that has not stopped after this gets SIGKILL. */
const stopGraceMs = 5000;
/** Restart back-off: 1 s, 2 s, 4 s … at most 30 s; a service that ran a minute starts over at 1 s. */
const backoff = { firstMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * One service as a supervised child process: started with tsx, its output prefixed with its
 * name, restarted with a back-off when it crashes (once `supervise` is on), stopped on demand.
 */
export class ServiceProcess {
  readonly healthUrl: string;
  /** The last output lines, shown when the service fails to come up. */
  private readonly recent: string[] = [];
  private child?: ChildProcess;
  private startedAt = 0;
  private failures = 0;
  private restartTimer?: NodeJS.Timeout;
  private lastExit?: Exit;
  private stopping = false;
  /** Off while the stack starts (a crash then is a start-up error), on once it runs. */
  supervise = false;

  constructor(
    readonly spec: ServiceSpec,
    private readonly env: NodeJS.ProcessEnv,
    private readonly raw: boolean,
    private readonly onSpawn: () => void,
  ) {
    this.healthUrl = `http://127.0.0.1:${spec.port}${spec.healthPath ?? '/health'}`;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    this.lastExit = undefined;
    this.startedAt = Date.now();
    // Own process group: a terminal Ctrl-C reaches only `npm start`, which then stops each
    // service exactly once (a second signal would make a service skip its graceful stop).
    // The `lightdom-src` condition makes workspace packages resolve to their TypeScript
    // sources, so a fresh clone runs without a build.
    const child = spawn(
      process.execPath,
      ['--conditions=lightdom-src', '--import', 'tsx', this.spec.entry, ...(this.spec.args ?? [])],
      {
        cwd: repoRoot,
        env: { ...this.env, ...this.spec.env, PORT: String(this.spec.port) },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      readline
        .createInterface({ input: stream! })
        .on('line', (line) => this.remember(serviceLine(this.spec.name, line, this.raw)));
    }
    child.on('error', (err) => warn(`${this.spec.name}: could not start: ${err.message}`));
    // 'close', not 'exit': it comes after the last output line, which the error report needs.
    child.on('close', (code, sig) => this.exitedWith({ code, signal: sig }, child));
    this.onSpawn();
  }

  /** Resolves when /health answers 200; fails with the last output when the service dies or stays silent. */
  async waitHealthy(timeoutMs = healthTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.lastExit)
        throw new UserError(
          `${this.spec.name} ${describe(this.lastExit)} before it answered ${this.healthUrl}.\n${this.lastLines()}`,
        );
      if ((await httpStatus(this.healthUrl))?.status === 200) return;
      await sleep(300);
    }
    throw new UserError(
      `${this.spec.name} did not answer ${this.healthUrl} within ${timeoutMs / 1000} s.\n${this.lastLines()}`,
    );
  }

  /** SIGTERM to the service's process group, SIGKILL when it is still there after the grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const pid = this.pid;
    if (pid === undefined) return;
    signal(-pid, 'SIGTERM');
    if (await exited(pid, stopGraceMs)) return;
    warn(`${this.spec.name} did not stop within ${stopGraceMs / 1000} s; killing it`);
    signal(-pid, 'SIGKILL');
    await exited(pid, 2000);
  }

  /** Immediate SIGKILL, for a second Ctrl-C. */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (this.pid !== undefined) signal(-this.pid, 'SIGKILL');
  }

  private exitedWith(exit: Exit, child: ChildProcess): void {
    if (child !== this.child) return;
    this.lastExit = exit;
    if (this.stopping || !this.supervise) return;
    // A service that stayed up for a while crashed for a new reason: retry quickly again.
    if (Date.now() - this.startedAt > backoff.resetAfterMs) this.failures = 0;
    const delay = Math.min(backoff.maxMs, backoff.firstMs * 2 ** this.failures);
    this.failures += 1;
    warn(`${this.spec.name} ${describe(exit)}; restarting it in ${delay / 1000} s (restart #${this.failures})`);
    this.restartTimer = setTimeout(() => this.restart(), delay);
  }

  private restart(): void {
    if (this.stopping) return;
    this.start();
    this.waitHealthy().then(
      () => say(`${this.spec.name} is back: ${this.healthUrl} answers`),
      // Dying again schedules the next restart through exitedWith; only silence needs a word here.
      () => this.lastExit || warn(`${this.spec.name} was restarted but does not answer ${this.healthUrl}`),
    );
  }

  private remember(line: string): void {
    this.recent.push(...line.split('\n'));
    if (this.recent.length > 40) this.recent.splice(0, this.recent.length - 40);
  }

  private lastLines(): string {
    if (this.recent.length === 0) return '(it printed nothing)';
    return `Last output of ${this.spec.name}:\n${this.recent
      .slice(-20)
      .map((l) => `  ${l}`)
      .join('\n')}`;
  }
}

function describe(exit: Exit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
