import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { projectionNames } from '../projections/catalog.js';
import { qualified, readModelTables } from '../schema/tables.js';

export interface ProjectionStatus {
  name: string;
  /** Last position applied (the checkpoint). */
  position: number;
  /** Last position in the log. */
  head: number;
  /** head − position. */
  lag: number;
  /** Commits applied per second over the sample. */
  rate: number;
  updatedAt: string | null;
}

async function sample(pool: pg.Pool, schema: string) {
  const { rows } = await pool.query<{ name: string; position: string; updated_at: Date }>(
    `select name, position, updated_at from ${qualified(schema, readModelTables.checkpoints)} order by name`,
  );
  return new Map(rows.map((r) => [r.name, { position: Number(r.position), updatedAt: r.updated_at }]));
}

/**
 * Each projection's checkpoint beside the log's head, with the rate it moved at over
 * `sampleMs`. Projections of the catalogue that have no checkpoint yet show position 0.
 */
export async function projectionStatus(
  deps: { nc: NatsConnection; pool: pg.Pool },
  opts: { stream: string; schema: string; sampleMs?: number },
): Promise<ProjectionStatus[]> {
  const sampleMs = opts.sampleMs ?? 1000;
  const first = await sample(deps.pool, opts.schema);
  const t0 = performance.now();
  if (sampleMs > 0) await sleep(sampleMs);
  const second = await sample(deps.pool, opts.schema);
  const seconds = Math.max((performance.now() - t0) / 1000, 1e-3);
  const jsm = await deps.nc.jetstreamManager();
  const head = (await jsm.streams.info(opts.stream)).state.last_seq;
  const names = [...new Set([...projectionNames, ...second.keys()])];
  return names.map((name) => {
    const now = second.get(name);
    const position = now?.position ?? 0;
    const before = first.get(name)?.position ?? position;
    return {
      name,
      position,
      head,
      lag: Math.max(0, head - position),
      rate: sampleMs > 0 ? Math.round((position - before) / seconds) : 0,
      updatedAt: now ? now.updatedAt.toISOString() : null,
    };
  });
}

export function formatStatus(rows: ProjectionStatus[]): string {
  const header = ['projection', 'position', 'head', 'lag', 'rate/s', 'updated'];
  const lines = rows.map((r) => [
    r.name,
    String(r.position),
    String(r.head),
    String(r.lag),
    String(r.rate),
    r.updatedAt ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[fmt(header), ...lines.map(fmt)].join('\n')}\n`;
}
