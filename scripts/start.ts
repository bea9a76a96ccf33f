/**
 * `npm start`: the whole LightDom stack on one machine, with no configuration.
 *
 * 1. NATS (JetStream), PostgreSQL and Redis: a server that answers is used as it is; a
 *    missing one is started with its data in .data/<name>, and stopped again on exit.
 * 2. A local `hardhat node` (8545) is used or started, with AuditAnchor deployed once; when
 *    that fails, npm start says so and runs without anchoring (no command needs the chain).
 * 3. Every service with a `packages/<name>/src/main.ts` runs as a child process, its output
 *    prefixed with its name, and so does the dashboard (built first when its build is stale),
 *    and the anchor service when the chain is there; once each answers, a summary says where
 *    things listen.
 * 4. Ctrl-C / SIGTERM stops the services, then the chain and the servers this run started. A service that
 *    crashes meanwhile is restarted with a back-off.
 *
 * See docs/running.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LocalChain } from '../packages/anchor/src/chain.js';
import { type ChainSetup, prepareChain } from './start/chain.js';
import {
  anchorService,
  backingServers,
  chainPort,
  dashboardDev,
  dataDir,
  edgePorts,
  redact,
  repoRoot,
  type ServiceSpec,
  services,
} from './start/config.js';
import { buildDashboardIfStale } from './start/dashboard.js';
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
/** The local chain, when this run started it (and so stops it). */
let startedChain: LocalChain | undefined;

/** Whether anchoring runs: the chain and contract, or why not. */
type ChainState = { ok: true; setup: ChainSetup } | { ok: false; reason: string };

async function main(): Promise<void> {
  handleSignals();
  const { present, skipped } = findServices();
  const anchorPresent = fs.existsSync(path.join(repoRoot, anchorService.entry));
  await cleanUpLeftovers();
  // Before any server is started: a busy port is the likelier problem and needs no servers to find.
  await assertPortsFree(anchorPresent ? [...present, anchorService] : present);
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
  const chain: ChainState = anchorPresent ? await startChain() : { ok: false, reason: `no ${anchorService.entry}` };
  if (stopping) return;
  const toStart = prepareDashboard(present, skipped);
  if (chain.ok) toStart.push({ ...anchorService, env: { ...anchorService.env, ...chain.setup.env } });
  await startServices(toStart, tokens);
  if (stopping) return;
  watchServers();
  await printSummary(started, skipped, tokens, chain);
}

/**
 * The local chain and the contract. Anything that goes wrong is a warning: the stack runs
 * without anchoring, and checkpoints are anchored once a later run has a chain.
 */
async function startChain(): Promise<ChainState> {
  say(`checking for an Ethereum node on http://127.0.0.1:${chainPort} (audit checkpoints are anchored there)`);
  try {
    const setup = await prepareChain((chain) => {
      startedChain = chain;
      say(`started a local hardhat node (pid ${chain.pid}) on ${chain.rpcUrl}; it is stopped on exit`);
      recordState();
    });
    return { ok: true, setup };
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0]!.slice(0, 300);
    warn(
      `The local chain could not be started or used (${reason}). Continuing without anchoring: commands and audit checkpoints work, anchoring waits for a later run.`,
    );
    if (startedChain) {
      await startedChain.stop();
      startedChain = undefined;
      recordState();
    }
    return { ok: false, reason };
  }
}

/** Builds the dashboard when its build is stale (not with --dev); a failed build skips it with a warning. */
function prepareDashboard(present: ServiceSpec[], skipped: ServiceSpec[]): ServiceSpec[] {
  const dashboard = present.find((s) => s.name === 'dashboard');
  if (!dashboard || dashboardDev) return [...present];
  try {
    buildDashboardIfStale();
    return [...present];
  } catch (err) {
    warn(
      `The dashboard build failed, so the dashboard is skipped (the API works without it):\n${(err as Error).message}`,
    );
    skipped.push(dashboard);
    return present.filter((s) => s !== dashboard);
  }
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

/** Starts every service at once and waits until each answers /health; the anchor service may fail alone. */
async function startServices(present: ServiceSpec[], tokens: StartTokens): Promise<void> {
  const env = {
    ...process.env,
    ...Object.fromEntries(backingServers.map((s) => [s.envVar, s.url])),
    ...tokens.registryEnv,
  };
  for (const spec of present) {
    // The executor, the AI worker and the anchor service act with a service token of their own.
    const own = tokens.serviceToken[spec.name as keyof StartTokens['serviceToken']];
    const withToken = own ? { ...spec, env: { ...spec.env, SERVICE_TOKEN: own } } : spec;
    running.push(new ServiceProcess(withToken, env, raw, recordState));
  }
  say(`starting ${present.map((s) => s.name).join(', ')}`);
  for (const service of running) service.start();
  await Promise.all(
    running.map((s) =>
      s.spec.name !== anchorService.name
        ? s.waitHealthy()
        : s.waitHealthy().catch(async (err: Error) => {
            warn(`${err.message}\nContinuing without the anchor service: no checkpoint is anchored in this run.`);
            await s.stop();
            running.splice(running.indexOf(s), 1);
            recordState();
          }),
    ),
  );
  for (const service of running) service.supervise = true;
}

/** Servers we started are not restarted (that is their admin's call), but their death is worth a warning. */
function watchServers(): void {
  const warned = new Set<StartedServer>();
  let chainWarned = false;
  setInterval(() => {
    for (const server of startedServers.filter((s) => !warned.has(s) && !alive(s.pid))) {
      warned.add(server);
      warn(
        `${server.name} (pid ${server.pid}), started by npm start, has stopped; services fail until it is back. See ${path.relative(repoRoot, server.log)}`,
      );
    }
    if (startedChain?.pid && !chainWarned && !alive(startedChain.pid)) {
      chainWarned = true;
      warn(
        `the local hardhat node (pid ${startedChain.pid}) has stopped; checkpoints wait unanchored until a chain is back`,
      );
    }
  }, 5000).unref();
}

async function printSummary(
  started: Set<string>,
  skipped: ServiceSpec[],
  tokens: StartTokens,
  chain: ChainState,
): Promise<void> {
  const api = running.find((s) => s.spec.name === 'command-api')!;
  const host = displayHost();
  const base = `http://${host}:${api.spec.port}`;
  const rows = [['', 'where', 'state']];
  rows.push(['REST + WebSocket', `${base}  ws://${host}:${api.spec.port}/ws`, '']);
  for (const edge of edgePorts) {
    if (await listening(edge.port)) rows.push([edge.label, edge.show(edge.port), '']);
  }
  const dashboard = running.find((s) => s.spec.name === 'dashboard');
  if (dashboard) rows.push(['dashboard', dashboardUrl(dashboard), dashboardDev ? 'Vite dev server (--dev)' : 'built']);
  for (const s of running.filter((s) => s !== dashboard))
    rows.push([s.spec.name, `http://${host}:${s.spec.port}/health /ready /metrics`, await readiness(s, tokens)]);
  for (const s of skipped) rows.push([s.name, dim('-'), dim(`skipped: no ${s.entry}`)]);
  for (const spec of backingServers) {
    const state = started.has(spec.name) ? `started here, data in .data/${spec.name}` : 'already running, left alone';
    rows.push([spec.label, redact(spec.url), state]);
  }
  if (chain.ok) {
    const state = startedChain ? 'hardhat node started here' : 'already running, left alone';
    rows.push(['chain', chain.setup.chain.rpcUrl, `${state}; AuditAnchor ${chain.setup.contractAddress}`]);
  } else {
    rows.push(['chain', `http://127.0.0.1:${chainPort}`, yellow(`not used: ${chain.reason}; no anchoring`)]);
  }
  say(`${bold('LightDom is running.')} Ctrl-C stops it.\n${table(rows)}`);
  say(tokenNote(tokens, base, dashboard && dashboardUrl(dashboard)));
}

/** `localhost`, not 127.0.0.1: the command-api's WebSocket check lists both, and browsers prefer the name. */
function dashboardUrl(dashboard: ServiceProcess): string {
  const host = displayHost();
  return `http://${host === '127.0.0.1' ? 'localhost' : host}:${dashboard.spec.port}/`;
}

/** Where to point a browser or curl: the HOST the services listen on, loopback for "every address". */
function displayHost(): string {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
  const host = process.env.HOST?.trim() || '127.0.0.1';
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function tokenNote(tokens: StartTokens, base: string, dashboard: string | undefined): string {
  const open = dashboard ? `Dashboard: ${bold(dashboard)}` : undefined;
  if (tokens.auth === 'off') {
    const note = yellow('AUTH=off: no tokens; every request is an anonymous admin.');
    return open ? `${note}\n${open}` : note;
  }
  if (!tokens.admin) {
    const note = `Tokens: yours, from ${tokens.source}; the executor, the AI worker and the anchor service have service tokens of their own.`;
    return open ? `${note}\n${open}  (sign in with one of your tokens)` : note;
  }
  return [
    `Development admin token (kept in ${tokens.source}, mode 0600, reused next time; rm it for a new one):`,
    `  ${bold(tokens.admin)}`,
    ...(open ? [`${open}  (sign in with the token above)`] : []),
    'Try it:',
    `  curl -H 'authorization: Bearer ${tokens.admin}' ${base}/api/campaigns`,
    `  curl -X POST -H 'authorization: Bearer ${tokens.admin}' -H 'content-type: application/json' \\`,
    `    -d '{"name":"Spring","budget":{"amount":1000,"currency":"EUR"}}' ${base}/api/campaigns`,
  ].join('\n');
}

/**
 * /ready tells whether every dependency of a service answers; worth showing, not worth failing
 * over. Its details (which check fails) are for a caller with a token, so ask with the admin's.
 */
async function readiness(service: ServiceProcess, tokens: StartTokens): Promise<string> {
  const auth: Record<string, string> = tokens.admin ? { authorization: `Bearer ${tokens.admin}` } : {};
  const res = await httpStatus(service.healthUrl.replace(/\/health$/, '/ready'), 3000, auth);
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
    ...(startedChain?.pid
      ? [{ name: 'chain', pid: startedChain.pid, signal: 'SIGTERM' as const, match: 'hardhat' }]
      : []),
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
    if (startedChain) {
      say(`stopping the local chain (pid ${startedChain.pid})`);
      await startedChain.stop();
    }
    for (const server of [...startedServers].reverse()) {
      say(`stopping ${server.name} (pid ${server.pid})`);
      await stopServer(server);
    }
    clearState();
    if (running.length + startedServers.length > 0 || startedChain)
      say(code === 0 ? 'stopped' : 'stopped after an error');
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
