import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './output.js';

/** Everything `npm start` needs to know about the stack, in one place. */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Servers that `npm start` launches keep their data (and logs) here, inside the clone, and so
 * do its development tokens. `LIGHTDOM_DATA_DIR` moves it (tests run a stack of their own).
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
export const dataDir = path.resolve(process.env.LIGHTDOM_DATA_DIR?.trim() || path.join(repoRoot, '.data'));
export const logDir = path.join(dataDir, 'logs');
export const stateFile = path.join(dataDir, 'start-state.json');

/**
 * Undocumented-for-users knob for testing this script: shifts every default port (servers
 * and services) so a second stack can run beside one that already holds the real ports.
 */
export const portOffset = readPortOffset();

function readPortOffset(): number {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
  const raw = process.env.LIGHTDOM_PORT_OFFSET ?? '0';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 50_000) {
    throw new UserError(`LIGHTDOM_PORT_OFFSET must be an integer between 0 and 50000, got "${raw}"`);
  }
  return n;
}

export interface ServiceSpec {
  name: string;
  port: number;
  /** The stack is useless without it, so a missing entry file stops `npm start`. */
  required: boolean;
  /** Path of the entry file, relative to the repo root. */
  entry: string;
  /** More variables the service needs from the supervisor (e.g. a second port). */
  env: Record<string, string>;
  /** Arguments after the entry file (the dashboard's `--dev`). */
  args?: string[];
  /** The path that answers 200 once it is up; `/health` unless said otherwise. */
  healthPath?: string;
}

const service = (name: string, port: number, required: boolean, env: Record<string, string> = {}): ServiceSpec => ({
  name,
  port: port + portOffset,
  required,
  entry: `packages/${name}/src/main.ts`,
  env,
});

/** command-api's gRPC and AMQP ports; shifted like every other port, so a second stack can run. */
export const grpcPort = 50051 + portOffset;
export const amqpPort = 5673 + portOffset;

export const apiPort = 3001 + portOffset;
export const dashboardPort = 3000 + portOffset;
/** The local `hardhat node` that anchors audit checkpoints (docs/audit.md). */
export const chainPort = 8545 + portOffset;
export const anchorOpsPort = 9470 + portOffset;

/** `npm start -- --dev`: the dashboard runs the Vite dev server (hot reload) instead of the build. */
export const dashboardDev = process.argv.includes('--dev');

/** The dashboard's origins, which the command-api's WebSocket check must accept (they move with the offset). */
const dashboardOrigins = `http://localhost:${dashboardPort},http://127.0.0.1:${dashboardPort}`;

export const services: ServiceSpec[] = [
  service('command-api', 3001, true, {
    GRPC_PORT: String(grpcPort),
    AMQP_PORT: String(amqpPort),
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: npm start is no turbo task, so turbo caching does not apply
    ...(process.env.WS_ALLOWED_ORIGINS ? {} : { WS_ALLOWED_ORIGINS: dashboardOrigins }),
  }),
  service('projector', 3003, true),
  service('executor', 3002, false),
  service('ai-worker', 3004, false),
  {
    name: 'dashboard',
    port: dashboardPort,
    required: false,
    entry: 'packages/dashboard/serve.ts',
    env: { LIGHTDOM_API_URL: `http://127.0.0.1:${apiPort}` },
    args: dashboardDev ? ['--dev'] : [],
    healthPath: '/',
  },
];

/**
 * The anchor service runs only when the chain is there (its address and key come from
 * scripts/start/chain.ts); its ops port is OPS_PORT, not PORT.
 */
export const anchorService: ServiceSpec = {
  ...service('anchor', 9470, false),
  env: { OPS_PORT: String(anchorOpsPort), CHAIN_RPC_LOOPBACK_ONLY: 'true' },
};

/** Extra listeners of command-api from the design; shown in the summary only when they answer. */
export const edgePorts = [
  { label: 'gRPC', port: grpcPort, show: (p: number) => `127.0.0.1:${p}` },
  { label: 'AMQP 0-9-1', port: amqpPort, show: (p: number) => `amqp://127.0.0.1:${p}` },
];

export type BackingName = 'nats' | 'postgres' | 'redis';

export interface BackingSpec {
  name: BackingName;
  label: string;
  envVar: 'NATS_URL' | 'DATABASE_URL' | 'REDIS_URL';
  /** The URL services get: the env var when set, else the local default. */
  url: string;
  /** True when the URL points at the default local address, so we may start the server ourselves. */
  managed: boolean;
  debianPackage: string;
  composeService: string;
}

const backing = (
  name: BackingName,
  label: string,
  envVar: BackingSpec['envVar'],
  defaultPort: number,
  defaultUrl: (port: number) => string,
  debianPackage: string,
): BackingSpec => {
  const port = defaultPort + portOffset;
  const url = process.env[envVar]?.trim() || defaultUrl(port);
  return { name, label, envVar, url, managed: isLocalPort(url, port), debianPackage, composeService: name };
};

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Whether a URL names this machine's default port for the server (`localhost` and
 * `127.0.0.1` count as one): only then may `npm start` launch the server itself.
 */
function isLocalPort(url: string, port: number): boolean {
  try {
    const { host, port: p } = hostPort(url.split(',')[0]!, port);
    return loopback.has(host) && p === port;
  } catch {
    return false;
  }
}

export const backingServers: BackingSpec[] = [
  backing('nats', 'NATS JetStream', 'NATS_URL', 4222, (p) => `nats://127.0.0.1:${p}`, 'nats-server'),
  backing(
    'postgres',
    'PostgreSQL',
    'DATABASE_URL',
    5432,
    (p) => `postgres://postgres@127.0.0.1:${p}/lightdom`,
    'postgresql',
  ),
  backing('redis', 'Redis', 'REDIS_URL', 6379, (p) => `redis://127.0.0.1:${p}`, 'redis-server'),
];

/** Default ports by server, for URLs that leave the port out. */
export const defaultPorts: Record<BackingName, number> = { nats: 4222, postgres: 5432, redis: 6379 };

/** The host and port a URL points at, with the scheme's default port filled in. */
export function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url.trim());
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: u.port ? Number(u.port) : defaultPort };
}

/** A URL safe to print: the password is masked. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
