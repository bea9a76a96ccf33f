import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from './ports.js';

/** Debian's PostgreSQL 15, what CI has. */
const bin = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  /** URL of the `lightdom` database, e.g. `postgres://postgres@127.0.0.1:40000/lightdom`. */
  url: string;
  port: number;
  /** Stops the server the way an operator restart does (SIGINT: fast shutdown). */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** initdb and postgres refuse to run as root, so both run as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user on this machine (apt-get install postgresql-15)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A PostgreSQL 15 cluster of the suite's own on a free port, so restarting it cannot
 * disturb the shared server on 5432. fsync is off: the suite crashes processes, not the
 * machine.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const root = mkdtempSync(join(tmpdir(), 'lightdom-faults-pg-'));
  const data = join(root, 'data');
  mkdirSync(data);
  if (user) {
    chownSync(root, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], {
    stdio: 'ignore',
    ...user,
  });
  let child: ChildProcess | undefined;
  const base = `postgres://postgres@127.0.0.1:${port}`;

  async function answers(db: string): Promise<boolean> {
    const client = new pg.Client({ connectionString: `${base}/${db}`, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async function start(): Promise<void> {
    child = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { stdio: 'ignore', ...user },
    );
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode} on start`);
      if (await answers('postgres')) return;
      await sleep(50);
    }
    throw new Error(`postgres did not accept connections on ${port}`);
  }

  async function stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  }

  await start();
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query('create database lightdom');
  await admin.end();
  return {
    url: `${base}/lightdom`,
    port,
    stop: () => stop('SIGINT'),
    start,
    async destroy() {
      // Immediate shutdown: the cluster is thrown away anyway.
      await stop('SIGQUIT');
      rmSync(root, { recursive: true, force: true });
    },
  };
}
