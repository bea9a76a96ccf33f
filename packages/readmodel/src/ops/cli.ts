import type { AuditIo } from '@lightdom/audit';
import { ConfigError } from '@lightdom/runtime';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { projectionNames } from '../projections/catalog.js';
import { migrate } from '../schema/migrations.js';
import { loadProjectionOpsConfig } from './config.js';
import { RebuildError, rebuildProjections } from './rebuild.js';
import { formatStatus, projectionStatus } from './status.js';

export const projectionsUsage = `lightdom projections status [--json] [--sample-ms N]
    each projection: checkpoint position, log head, lag and rate (over a sample, default 1000 ms)
lightdom projections rebuild <name>|all [--drop-old] [--batch N]
    builds <name> from position 0 into new tables beside the live ones, then swaps them in
    while reads go on; the old tables stay (<table>__old) until the next rebuild, or --drop-old
    projections: ${projectionNames.join(', ')}
Environment: NATS_URL, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, DATABASE_URL, DB_SCHEMA (docs/projections.md)
`;

class UsageError extends Error {}

interface Parsed {
  command: 'status' | 'rebuild';
  names: string[];
  json: boolean;
  dropOld: boolean;
  sampleMs: number;
  batch: number;
}

function whole(flag: string, value: string | undefined, min: number, max: number): number {
  if (!value || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

function parse(argv: string[]): Parsed {
  const [sub, ...rest] = argv;
  if (sub !== 'status' && sub !== 'rebuild') throw new UsageError(`unknown projections command ${sub ?? '(none)'}`);
  const out: Parsed = { command: sub, names: [], json: false, dropOld: false, sampleMs: 1000, batch: 500 };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--json' && sub === 'status') out.json = true;
    else if (a === '--sample-ms' && sub === 'status') out.sampleMs = whole('sample-ms', rest[++i], 0, 60_000);
    else if (a === '--drop-old' && sub === 'rebuild') out.dropOld = true;
    else if (a === '--batch' && sub === 'rebuild') out.batch = whole('batch', rest[++i], 1, 10_000);
    else if (!a.startsWith('--') && sub === 'rebuild') out.names.push(a);
    else throw new UsageError(`${a} does not belong to projections ${sub}`);
  }
  if (sub === 'rebuild') {
    if (out.names.length === 0) throw new UsageError('projections rebuild needs a projection name (or all)');
    if (out.names.includes('all')) out.names = [...projectionNames];
    const unknown = out.names.filter((n) => !projectionNames.includes(n));
    if (unknown.length)
      throw new UsageError(`no projection named ${unknown.join(', ')} (${projectionNames.join(', ')})`);
  }
  return out;
}

/**
 * `lightdom projections status|rebuild`, with its exit code: 0 done, 2 a usage,
 * configuration or connection error (as `lightdom audit`).
 */
export async function runProjectionsCli(argv: string[], env: NodeJS.ProcessEnv, io: AuditIo): Promise<number> {
  let cmd: Parsed;
  try {
    cmd = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`lightdom: ${err.message}\n\n${projectionsUsage}`);
    return 2;
  }
  let nc: NatsConnection | undefined;
  let pool: pg.Pool | undefined;
  try {
    const config = loadProjectionOpsConfig(env);
    try {
      nc = await connect({ servers: config.NATS_URL.split(',').map((u) => u.trim()), reconnect: false, timeout: 5000 });
    } catch (err) {
      throw new RebuildError(`Cannot reach NATS at ${config.NATS_URL} (NATS_URL): ${(err as Error).message}`);
    }
    pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 3, connectionTimeoutMillis: 5000 });
    pool.on('error', () => undefined);
    const deps = { nc, pool };
    if (cmd.command === 'status') {
      const rows = await projectionStatus(deps, {
        stream: config.EVENTS_STREAM,
        schema: config.DB_SCHEMA,
        sampleMs: cmd.sampleMs,
      });
      io.stdout.write(cmd.json ? `${JSON.stringify(rows, null, 2)}\n` : formatStatus(rows));
      return 0;
    }
    // The tables must exist (and be current) before new ones are made like them.
    await migrate(pool, config.DB_SCHEMA);
    const r = await rebuildProjections(deps, {
      stream: config.EVENTS_STREAM,
      schema: config.DB_SCHEMA,
      names: cmd.names,
      dropOld: cmd.dropOld,
      batchSize: cmd.batch,
      io,
    });
    io.stdout.write(
      `projections rebuild: ${r.names.join(', ')} rebuilt from ${r.commits} commits in ${r.seconds.toFixed(1)} s ` +
        `(${r.rate}/s), swapped in at position ${r.position}` +
        `${r.oldTables.length ? `; old tables kept: ${r.oldTables.join(', ')}` : '; old tables dropped'}\n`,
    );
    return 0;
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof RebuildError ? err.message : String(err);
    io.stderr.write(`lightdom: ${message}\n`);
    return 2;
  } finally {
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    await pool?.end().catch(() => undefined);
  }
}
