/**
 * `npm start`: the whole LightDom stack on one machine, with no configuration.
 *
 * 1. NATS (JetStream), PostgreSQL and Redis: a server that answers is used as it is; a
 *    missing one is started with its data in .data/<name>, and stopped again on exit.
 * 2. Every service with a `packages/<name>/src/main.ts` runs as a child process, its output
 *    prefixed with its name; once each answers /health a summary says where things listen.
 * 3. Ctrl-C / SIGTERM stops the services, then the servers this run started. A service that
 *    crashes meanwhile is restarted with a back-off.
 *
 * See docs/running.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { backingServers, dataDir, edgePorts, redact, repoRoot, type ServiceSpec, services } from './start/config.js';
import { bold, dim, green, red, say, table, UserError, warn, yellow } from './start/output.js';
import { checks, createDatabase, httpStatus, listening } from './start/probes.js';
import { alive, problemWith, type StartedServer, startServer, stopServer } from './start/servers.js';
import { ServiceProcess } from './start/services.js';
import { cleanUpLeftovers, clearState, saveState } from './start/state.js';
import { prepareTokens, type StartTokens } from './start/tokens.js';

/** `npm start -- --raw` passes the services' JSON log lines through untouched. */
const raw = process.argv.includes('--raw');

/** What this run started, so that exactly that is stopped again. */
const startedServers: StartedServer[] = [];
const running: ServiceProcess[] = [];
let stopping: Promise<void> | undefined;

async function main(): Promise<void> {
  handleSignals();
  const { present, skipped } = findServices();
  await cleanUpLeftovers();
  // Before any server is started: a busy port is the likelier problem and needs no servers to find.
  await assertPortsFree(present);
  fs.mkdirSync(dataDir, { recursive: true });
  const tokens = prepareTokens();
  if (tokens.auth === 'off') {
    warn(
      bold(
        'AUTH=off: authentication is OFF. Every caller of every service is an anonymous admin. Never do this outside a development machine.',
      ),
    );
  }
  const started = await ensureBackingServers();
  if (stopping) return;
  await startServices(present, tokens);
  if (stopping) return;
  watchServers();
  await printSummary(started, skipped, tokens);
}

/** The services whose entry file exists; a missing optional one is skipped with a note. */
function findServices(): { present: ServiceSpec[]; skipped: ServiceSpec[] } {
  const exists = (s: ServiceSpec) => fs.existsSync(path.join(repoRoot, s.entry));
  const missingRequired = services.filter((s) => s.required && !exists(s));
  if (missingRequired.length > 0) {
    throw new UserError(
      `${missingRequired.map((s) => s.entry).join(' and ')} ${missingRequired.length > 1 ? 'do' : 'does'} not exist, and the stack cannot run without ${missingRequired.map((s) => s.name).join(' and ')}. Is this checkout complete (git status, git pull)?`,
    );
  }
  const skipped = services.filter((s) => !exists(s));
  for (const s of skipped) say(`${s.name}: ${s.entry} does not exist (yet), so ${s.name} is skipped`);
  return { present: services.filter(exists), skipped };
}

/**
 * Checks NATS, Postgres and Redis all at once, so every problem shows in one go, then starts
 * the ones that do not answer. Returns the server names that this run started.
 */
async function ensureBackingServers(): Promise<Set<string>> {
  const answers = await Promise.all(backingServers.map((spec) => checks[spec.name](spec.url)));
  const problems = backingServers.flatMap((spec, i) => problemWith(spec, answers[i]!) ?? []);
  if (problems.length > 0) throw new UserError(problems.join('\n\n'));
  const started = new Set<string>();
  for (const [i, spec] of backingServers.entries()) {
    if (stopping) break;
    let answer = answers[i]!;
    if (answer.state !== 'up') {
      answer = await startServer(spec, (server) => {
        say(
          `${spec.label} does not answer at ${redact(spec.url)}; starting it (pid ${server.pid}, data in .data/${spec.name})`,
        );
        startedServers.push(server);
        recordState();
      });
      started.add(spec.name);
    }
    const note = answer.state === 'up' && answer.note;
    say(`${spec.label} answers at ${redact(spec.url)}${note ? ` (${note})` : ''}`);
    if (spec.name === 'postgres' && note === 'database missing') {
      say(`created database "${await createDatabase(spec.url)}"`);
    }
  }
  return started;
}

/** A service whose port is taken would fail with EADDRINUSE, or worse, seem healthy through the other process. */
async function assertPortsFree(present: ServiceSpec[]): Promise<void> {
  for (const s of present) {
    if (await listening(s.port)) {
      throw new UserError(
        `Port ${s.port}, which ${s.name} listens on, is already in use by another process (see \`ss -ltnp 'sport = :${s.port}'\`). Is the stack already running in another terminal? Stop that process and run npm start again.`,
      );
    }
  }
}

/** Starts every service at once and waits until each answers /health. */
async function startServices(present: ServiceSpec[], tokens: StartTokens): Promise<void> {
  const env = {
    ...process.env,
    ...Object.fromEntries(backingServers.map((s) => [s.envVar, s.url])),
    ...tokens.registryEnv,
  };
  for (const spec of present) {
    // The executor and the AI worker act with a service token of their own.
    const own = tokens.serviceToken[spec.name as keyof StartTokens['serviceToken']];
    const withToken = own ? { ...spec, env: { ...spec.env, SERVICE_TOKEN: own } } : spec;
    running.push(new ServiceProcess(withToken, env, raw, recordState));
  }
  say(`starting ${present.map((s) => s.name).join(', ')}`);
  for (const service of running) service.start();
  await Promise.all(running.map((s) => s.waitHealthy()));
  for (const service of running) service.supervise = true;
}

/** Servers we started are not restarted (that is their admin's call), but their death is worth a warning. */
function watchServers(): void {
  const warned = new Set<StartedServer>();
  setInterval(() => {
    for (const server of startedServers.filter((s) => !warned.has(s) && !alive(s.pid))) {
      warned.add(server);
      warn(
        `${server.name} (pid ${server.pid}), started by npm start, has stopped; services fail until it is back. See ${path.relative(repoRoot, server.log)}`,
      );
    }
  }, 5000).unref();
}

async function printSummary(started: Set<string>, skipped: ServiceSpec[], tokens: StartTokens): Promise<void> {
  const api = running.find((s) => s.spec.name === 'command-api')!;
  const host = displayHost();
  const base = `http://${host}:${api.spec.port}`;
  const rows = [['', 'where', 'state']];
  rows.push(['REST + WebSocket', `${base}  ws://${host}:${api.spec.port}/ws`, '']);
  for (const edge of edgePorts) {
    if (await listening(edge.port)) rows.push([edge.label, edge.show(edge.port), '']);
  }
  for (const s of running)
    rows.push([s.spec.name, `http://${host}:${s.spec.port}/health /ready /metrics`, await readiness(s)]);
  for (const s of skipped) rows.push([s.name, dim('-'), dim(`skipped: no ${s.entry}`)]);
  for (const spec of backingServers) {
    const state = started.has(spec.name) ? `started here, data in .data/${spec.name}` : 'already running, left alone';
    rows.push([spec.label, redact(spec.url), state]);
  }
  say(`${bold('LightDom is running.')} Ctrl-C stops it.\n${table(rows)}`);
  say(tokenNote(tokens, base));
}

/** Where to point a browser or curl: the HOST the services listen on, loopback for "every address". */
function displayHost(): string {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
  const host = process.env.HOST?.trim() || '127.0.0.1';
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function tokenNote(tokens: StartTokens, base: string): string {
  if (tokens.auth === 'off') return yellow('AUTH=off: no tokens; every request is an anonymous admin.');
  if (!tokens.admin) {
    return `Tokens: yours, from ${tokens.source}; the executor and the AI worker have service tokens of their own.`;
  }
  return [
    `Development admin token (kept in ${tokens.source}, mode 0600, reused next time; rm it for a new one):`,
    `  ${bold(tokens.admin)}`,
    'Try it:',
    `  curl -H 'authorization: Bearer ${tokens.admin}' ${base}/api/campaigns`,
    `  curl -X POST -H 'authorization: Bearer ${tokens.admin}' -H 'content-type: application/json' \\`,
    `    -d '{"name":"Spring","budget":{"amount":1000,"currency":"EUR"}}' ${base}/api/campaigns`,
  ].join('\n');
}

/** /ready tells whether every dependency of a service answers; worth showing, not worth failing over. */
async function readiness(service: ServiceProcess): Promise<string> {
  const res = await httpStatus(service.healthUrl.replace(/\/health$/, '/ready'), 3000);
  if (res?.status === 200) return green('ready');
  try {
    const checks = (JSON.parse(res?.body ?? '') as { checks?: Record<string, string> }).checks ?? {};
    const failing = Object.entries(checks).filter(([, v]) => v !== 'ok');
    return yellow(`not ready: ${failing.map(([k, v]) => `${k} (${v})`).join(', ') || res?.status}`);
  } catch {
    return yellow(res ? `/ready says ${res.status}` : '/ready does not answer');
  }
}

function recordState(): void {
  const tracked = [
    ...running.flatMap((s) =>
      s.pid ? [{ name: s.spec.name, pid: s.pid, signal: 'SIGTERM' as const, match: s.spec.entry }] : [],
    ),
    ...startedServers.map(({ name, pid, signal, match }) => ({ name, pid, signal, match })),
  ];
  saveState(tracked);
}

/**
 * One Ctrl-C stops everything in order. npm and tsx relay the terminal's signal, so the
 * same Ctrl-C can arrive two or three times at once: only a later one means "force".
 */
function handleSignals(): void {
  let firstAt = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopping) {
      firstAt = Date.now();
      process.stdout.write('\n');
      say(`${sig}: stopping (press Ctrl-C again to kill everything at once)`);
      void shutdown(0);
    } else if (Date.now() - firstAt > 1500) {
      warn('second signal: killing the services and leaving at once');
      for (const s of running) s.kill();
      process.exit(1);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
}

/** Stops the services (they drain and close their connections), then the servers we started. */
function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    await Promise.all(running.map((s) => s.stop()));
    for (const server of [...startedServers].reverse()) {
      say(`stopping ${server.name} (pid ${server.pid})`);
      await stopServer(server);
    }
    clearState();
    if (running.length + startedServers.length > 0) say(code === 0 ? 'stopped' : 'stopped after an error');
    process.exit(code);
  })();
  return stopping;
}

/** A UserError is a message for the user; anything else is a bug in this script and keeps its stack. */
function fail(err: unknown): void {
  if (stopping) return; // errors caused by stopping half-way through start-up are expected
  const text =
    err instanceof UserError ? err.message : `npm start failed unexpectedly:\n${(err as Error).stack ?? err}`;
  process.stderr.write(`\n${red('npm start:')} ${text}\n\n`);
  void shutdown(1);
}

process.on('unhandledRejection', fail);
main().catch(fail);
