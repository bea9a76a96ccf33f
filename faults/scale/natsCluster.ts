import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, listening } from '../lib/ports.js';

export interface ClusterNode {
  /** Server name (`-n`), what JetStream reports as a stream's leader. */
  name: string;
  clientPort: number;
  clusterPort: number;
  kill9(): Promise<void>;
  /** Starts it again on the same ports and store. */
  start(): Promise<void>;
  running(): boolean;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's client URL, comma-separated (what NATS_URL takes). */
  url: string;
  node(name: string): ClusterNode;
  destroy(): Promise<void>;
}

/**
 * A JetStream cluster of `size` nats-server processes on loopback: each with its own
 * client port, store and cluster port, routes to all the others and one cluster name,
 * so streams can take `num_replicas: size`. Output goes to `<logDir>/nats-<n>.log`.
 */
export async function startNatsCluster(
  opts: { size: number; logDir: string; binary?: string } = { size: 3, logDir: tmpdir() },
): Promise<NatsCluster> {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: the fault suite is no turbo task
  const binary = opts.binary ?? process.env.NATS_SERVER_BIN ?? 'nats-server';
  const storeRoot = mkdtempSync(join(tmpdir(), 'lightdom-nats-cluster-'));
  const clusterName = `lightdom-scale-${process.pid}`;
  const ports = [];
  for (let i = 0; i < opts.size; i++) ports.push({ client: await freePort(), cluster: await freePort() });
  const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`);

  const nodes = ports.map((p, i): ClusterNode & { stop(): Promise<void> } => {
    const name = `n${i + 1}`;
    const dir = join(storeRoot, name);
    mkdirSync(dir);
    const log = createWriteStream(join(opts.logDir, `nats-${name}.log`), { flags: 'a' });
    let child: ChildProcess | undefined;
    const alive = () => !!child && child.exitCode === null && child.signalCode === null;
    const stopWith = async (signal: NodeJS.Signals) => {
      const c = child;
      if (!c || !alive()) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill(signal);
      await exited;
    };
    return {
      name,
      clientPort: p.client,
      clusterPort: p.cluster,
      running: alive,
      async start() {
        if (alive()) return;
        log.write(`===== start at ${new Date().toISOString()}\n`);
        const c = spawn(
          binary,
          [
            ...['-a', '127.0.0.1', '-p', String(p.client), '-n', name, '-js', '-sd', dir],
            ...['--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${p.cluster}`],
            ...['--routes', routes.filter((_, j) => j !== i).join(',')],
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        child = c;
        c.stdout?.pipe(log, { end: false });
        c.stderr?.pipe(log, { end: false });
        const failed = new Promise<never>((_, reject) =>
          c.once('error', (err) =>
            reject(new Error(`cannot start ${binary}: ${err.message} (apt-get install nats-server)`)),
          ),
        );
        for (let t = 0; t < 200; t++) {
          if (await Promise.race([listening(p.client), failed])) return;
          if (!alive()) throw new Error(`nats-server ${name} exited at start; see ${opts.logDir}/nats-${name}.log`);
          await sleep(50);
        }
        throw new Error(`nats-server ${name} did not listen on ${p.client}`);
      },
      kill9: () => stopWith('SIGKILL'),
      stop: () => stopWith('SIGTERM'),
    };
  });

  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    rmSync(storeRoot, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    nodes,
    url: nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(','),
    node(name) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no cluster node named ${name}`);
      return n;
    },
    destroy,
  };
}
