import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type BackingSpec, dataDir, defaultPorts, hostPort, logDir, redact, repoRoot } from './config.js';
import { UserError } from './output.js';
import { type Answer, checks } from './probes.js';

/** A backing server this run started, and so must stop on exit. */
export interface StartedServer {
  name: string;
  pid: number;
  /** The signal that makes it shut down cleanly (Postgres: SIGINT is its "fast" shutdown). */
  signal: NodeJS.Signals;
  /** Text in its command line, to recognise the process later (pids get reused). */
  match: string;
  log: string;
}

/**
 * Why a server that does not answer cannot be fixed by starting it here, or undefined when
 * it answers or can be started: something else holds its port, its URL points elsewhere,
 * or it is not installed.
 */
export function problemWith(spec: BackingSpec, answer: Answer): string | undefined {
  if (answer.state === 'up') return undefined;
  if (answer.state === 'wrong') {
    return `${spec.label} cannot be used at ${redact(spec.url)}: ${answer.reason}. Fix that, or point ${spec.envVar} elsewhere.`;
  }
  if (!spec.managed) {
    return `${spec.label} does not answer at ${redact(spec.url)} (${answer.reason}). ${spec.envVar} is set to an address npm start does not manage, so it only checks it: start that server, or unset ${spec.envVar} to use a local one.`;
  }
  if (!installed[spec.name]()) {
    return (
      `${spec.label} is not running on ${redact(spec.url)} and is not installed, so npm start cannot start it. ` +
      `Install it with \`sudo apt-get install ${spec.debianPackage}\` (npm start then runs it with its data in .data/${spec.name}), ` +
      `or run it in Docker with \`docker compose -f deploy/docker-compose.yml up -d ${spec.composeService}\`, ` +
      `or point ${spec.envVar} at a server you already have. Then run npm start again.`
    );
  }
  return undefined;
}

/** Starts a server that does not answer and waits until it does; `onStart` hears of the process at once. */
export async function startServer(
  spec: BackingSpec,
  onStart: (s: StartedServer) => void,
): Promise<Answer & { state: 'up' }> {
  const started = await starters[spec.name](spec);
  onStart(started);
  return waitUntilUp(spec, started);
}

/** Polls the protocol check until the server answers; fails early when the process died. */
async function waitUntilUp(
  spec: BackingSpec,
  started: StartedServer,
  timeoutMs = 60_000,
): Promise<Answer & { state: 'up' }> {
  const deadline = Date.now() + timeoutMs;
  let answer: Answer = { state: 'down', reason: 'not checked yet' };
  while (Date.now() < deadline) {
    if (!alive(started.pid)) {
      throw new UserError(`${spec.label} stopped right after it was started.\n${tail(started.log)}`);
    }
    answer = await checks[spec.name](spec.url);
    if (answer.state === 'up') return answer;
    await sleep(250);
  }
  const reason = 'reason' in answer ? ` (${answer.reason})` : '';
  throw new UserError(
    `${spec.label} was started (pid ${started.pid}) but did not answer at ${redact(spec.url)} within ${timeoutMs / 1000} s${reason}.\n${tail(started.log)}`,
  );
}

/** Stops a server we started: its clean-shutdown signal, then SIGKILL if it lingers. */
export async function stopServer(server: StartedServer, graceMs = 15_000): Promise<void> {
  if (!signal(server.pid, server.signal)) return;
  if (await exited(server.pid, graceMs)) return;
  signal(server.pid, 'SIGKILL');
  await exited(server.pid, 2000);
}

const installed: Record<BackingSpec['name'], () => boolean> = {
  nats: () => findExecutable('nats-server') !== undefined,
  redis: () => findExecutable('redis-server') !== undefined,
  postgres: () => postgresBinDir() !== undefined,
};

const starters: Record<BackingSpec['name'], (spec: BackingSpec) => Promise<StartedServer>> = {
  nats: startNats,
  redis: startRedis,
  postgres: startPostgres,
};

async function startNats(spec: BackingSpec): Promise<StartedServer> {
  const bin = findExecutable('nats-server')!;
  const { port } = hostPort(spec.url, defaultPorts.nats);
  const store = dataFolder('nats');
  return {
    ...spawnServer('nats', bin, ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], 'SIGTERM'),
    match: store,
  };
}

async function startRedis(spec: BackingSpec): Promise<StartedServer> {
  const bin = findExecutable('redis-server')!;
  const { port } = hostPort(spec.url, defaultPorts.redis);
  const dir = dataFolder('redis');
  // Append-only file instead of snapshots: every write survives a restart of the stack.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'];
  return spawnServer('redis', bin, [...args, '--daemonize', 'no', '--logfile', ''], 'SIGTERM');
}

/**
 * Runs a server in the foreground as our child, in its own process group so a Ctrl-C in the
 * terminal reaches only us: we stop the services first and the servers after them.
 */
function spawnServer(name: string, bin: string, args: string[], stopSignal: NodeJS.Signals): StartedServer {
  const log = logFile(name);
  const out = fs.openSync(log, 'w'); // a fresh log per run, so an error shows this run's lines
  const child: ChildProcess = spawn(bin, args, { cwd: repoRoot, detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (child.pid === undefined) throw new UserError(`Could not start ${bin}.`);
  child.on('error', () => undefined);
  return { name, pid: child.pid, signal: stopSignal, match: path.basename(bin), log };
}

/**
 * Postgres: a cluster of our own in .data/postgres (initdb with trust auth on first use),
 * run with pg_ctl. initdb refuses to run as root, so as root it runs as the `postgres`
 * user; when that is impossible, the Debian cluster is started instead.
 */
async function startPostgres(spec: BackingSpec): Promise<StartedServer> {
  const bin = postgresBinDir()!;
  const { port } = hostPort(spec.url, defaultPorts.postgres);
  const dir = dataFolder('postgres');
  const log = logFile('postgres');
  const asUser = isRoot() ? 'postgres' : undefined;
  if (asUser && !canUseAsPostgres(dir, log)) return startDebianCluster(spec);
  const run = (tool: string, args: string[]) => runTool(path.join(bin, tool), args, asUser);
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    run('initdb', ['-D', dir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
  }
  // TCP on loopback only, no Unix socket: its default folder may not exist or be writable.
  const options = `-p ${port} -h 127.0.0.1 -k ''`;
  try {
    run('pg_ctl', ['-D', dir, '-l', log, '-o', options, '-w', '-t', '60', 'start']);
  } catch (err) {
    throw new UserError(`${(err as Error).message}\n${tail(log)}`);
  }
  return { name: 'postgres', pid: postmasterPid(dir), signal: 'SIGINT', match: dir, log };
}

/** The Debian way, when our own cluster cannot be used: `pg_ctlcluster <version> main start`. */
async function startDebianCluster(spec: BackingSpec): Promise<StartedServer> {
  const versions = fs.existsSync('/etc/postgresql') ? fs.readdirSync('/etc/postgresql') : [];
  const version = versions
    .filter((v) => fs.existsSync(`/etc/postgresql/${v}/main`))
    .sort(byNumber)
    .at(-1);
  if (!version) {
    throw new UserError(
      `PostgreSQL is installed, but npm start runs as root and cannot hand ${path.join(dataDir, 'postgres')} to a "postgres" user (initdb refuses to run as root), and there is no Debian cluster to start instead. Run npm start as a normal user, or start PostgreSQL yourself on ${redact(spec.url)}.`,
    );
  }
  runTool('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start']);
  const dataDirectory = `/var/lib/postgresql/${version}/main`;
  return {
    name: 'postgres',
    pid: postmasterPid(dataDirectory),
    signal: 'SIGINT',
    match: dataDirectory,
    log: `/var/log/postgresql/postgresql-${version}-main.log`,
  };
}

/** Runs a setup tool to completion, as another user when asked; its output goes in the error. */
function runTool(tool: string, args: string[], asUser?: string): void {
  const [cmd, argv] = asUser ? ['runuser', ['-u', asUser, '--', tool, ...args]] : [tool, args];
  try {
    execFileSync(cmd, argv, { cwd: repoRoot, stdio: 'pipe', timeout: 90_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim();
    throw new UserError(`${path.basename(tool)} failed: ${output || e.message}`);
  }
}

/** As root: gives the data folder and log to `postgres` and checks that user can reach them. */
function canUseAsPostgres(dir: string, log: string): boolean {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    fs.chownSync(dir, uid, gid);
    fs.chmodSync(dir, 0o700);
    fs.closeSync(fs.openSync(log, 'a'));
    fs.chownSync(log, uid, gid);
    // The parents of the folder must be searchable by postgres too (a repo under /root is not).
    execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir, '-a', '-w', log]);
    return true;
  } catch {
    return false;
  }
}

function postmasterPid(dir: string): number {
  const pid = Number(fs.readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0)
    throw new UserError(`Cannot read the Postgres pid from ${dir}/postmaster.pid.`);
  return pid;
}

/** The newest installed Postgres server's bin folder (Debian puts them under /usr/lib/postgresql). */
function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort(byNumber) : [];
  const debian = versions.map((v) => path.join(root, v, 'bin')).filter((d) => isExecutable(path.join(d, 'initdb')));
  if (debian.length > 0) return debian.at(-1);
  const initdb = findExecutable('initdb');
  return initdb && isExecutable(path.join(path.dirname(initdb), 'pg_ctl')) ? path.dirname(initdb) : undefined;
}

/** Looks on PATH and in the sbin folders, which are not on PATH for normal users on Debian. */
function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
    '/usr/local/bin',
  ];
  return dirs.map((d) => path.join(d, name)).find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function dataFolder(name: string): string {
  const dir = path.join(dataDir, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function logFile(name: string): string {
  fs.mkdirSync(logDir, { recursive: true });
  return path.join(logDir, `${name}.log`);
}

/** The last lines of a log, to show with an error. */
export function tail(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines);
    return `Last lines of ${path.relative(repoRoot, file) || file}:\n${text.map((l) => `  ${l}`).join('\n')}`;
  } catch {
    return `(no log at ${file})`;
  }
}

const byNumber = (a: string, b: string) => Number(a) - Number(b);
const isRoot = () => process.getuid?.() === 0;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a signal; false when the process is already gone. */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a process runs; a zombie nobody reaped yet (containers without an init) counts as gone. */
export function alive(pid: number): boolean {
  if (!signal(pid, 0)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(pid, 0)
  }
}

/** Waits until a process is gone; false when it is still there after `ms`. */
export async function exited(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}
