import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { type ServiceProcess, spawnService } from '@lightdom/testkit';
import { request, waitUntil } from './http.js';
import { say } from './log.js';
import { freePort } from './ports.js';
import { portVariables } from './services.js';

export interface UnexpectedExit {
  at: Date;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of what the process printed, to show why it died. */
  tail: string;
}

export interface SupervisedService {
  /** The package it runs (`packages/<name>/src/main.ts`). */
  name: string;
  /** Its name among several instances of one service (`command-api-2`); the name when it runs alone. */
  label: string;
  /** Base URL of its HTTP server (/health, /ready, /metrics and, for command-api, the API). */
  url: string;
  /** Every port variable it was given, e.g. `{ PORT: '40123', GRPC_PORT: '40124' }`; kept across restarts. */
  ports: Record<string, string>;
  /** How often the supervisor started it (1 = never restarted). */
  starts: number;
  /** kill -9s the suite injected; every restart must be explained by one of them. */
  injectedKills: number;
  unexpectedExits: UnexpectedExit[];
  pid(): number | undefined;
  /** kill -9, counted as an injection. The supervisor starts it again after its delay. */
  kill9(): Promise<void>;
  ready(): Promise<boolean>;
  /** Resolves with the ms it took until /ready answered 200. */
  waitReady(timeoutMs?: number): Promise<number>;
}

export interface SupervisorOptions {
  env: Record<string, string>;
  logDir: string;
  /** Pause before a process that exited is started again, in ms (a Kubernetes-like back-off). */
  restartDelayMs: number;
}

/**
 * Keeps each service running the way an orchestrator would: whatever makes a process
 * exit, it is started again after a short delay on the same port. The suite only ever
 * kills; a restart it did not cause by a kill is a service that could not recover alone.
 */
export function createSupervisor(opts: SupervisorOptions) {
  const services = new Map<string, SupervisedService>();
  const stopFns: (() => Promise<void>)[] = [];
  let stopping = false;

  /** Starts `name`; `instance` runs a second copy beside the first (own label, log and ports, more env). */
  async function add(
    name: string,
    instance: { label?: string; env?: Record<string, string> } = {},
  ): Promise<SupervisedService> {
    const label = instance.label ?? name;
    const ports: Record<string, string> = {};
    for (const variable of portVariables(name)) ports[variable] = String(await freePort());
    const port = Number(ports.PORT);
    const log: WriteStream = createWriteStream(join(opts.logDir, `${label}.log`), { flags: 'a' });
    let proc: ServiceProcess | undefined;
    let killing = false;
    let restartTimer: NodeJS.Timeout | undefined;

    const svc: SupervisedService = {
      name,
      label,
      url: `http://127.0.0.1:${port}`,
      ports,
      starts: 0,
      injectedKills: 0,
      unexpectedExits: [],
      pid: () => proc?.child.pid,
      async kill9() {
        if (!proc) return;
        killing = true;
        svc.injectedKills++;
        await proc.kill('SIGKILL');
      },
      async ready() {
        return (await request(`${svc.url}/ready`, { timeoutMs: 1500 })).status === 200;
      },
      waitReady: (timeoutMs = 30_000) => waitUntil(`${label} /ready`, svc.ready, timeoutMs),
    };

    const start = () => {
      svc.starts++;
      const p = spawnService(name, { ...opts.env, ...instance.env, ...ports, LOG_LEVEL: 'info' });
      proc = p;
      log.write(`\n===== start #${svc.starts} pid ${p.child.pid} at ${new Date().toISOString()}\n`);
      p.child.stdout?.on('data', (c: Buffer) => log.write(c));
      p.child.stderr?.on('data', (c: Buffer) => log.write(c));
      p.child.once('exit', (code, signal) => {
        log.write(`===== exit code ${code} signal ${signal} at ${new Date().toISOString()}\n`);
        if (stopping) return;
        if (!killing) {
          svc.unexpectedExits.push({ at: new Date(), code, signal, tail: p.output().slice(-2000) });
          say(`  !!    ${label} exited by itself (code ${code}, signal ${signal}); the supervisor restarts it`);
        }
        killing = false;
        restartTimer = setTimeout(start, opts.restartDelayMs);
      });
    };
    start();
    stopFns.push(async () => {
      clearTimeout(restartTimer);
      await proc?.kill('SIGTERM');
      await new Promise((r) => log.end(r));
    });
    services.set(label, svc);
    return svc;
  }

  return {
    services,
    add,
    /** Stops every service for good (SIGTERM; runService exits within 10 s at the latest). */
    async stopAll() {
      stopping = true;
      await Promise.all(stopFns.map((f) => f().catch(() => undefined)));
    },
  };
}

export type Supervisor = ReturnType<typeof createSupervisor>;
