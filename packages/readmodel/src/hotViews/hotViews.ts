import { randomUUID } from 'node:crypto';
import { type RecordedEvent, type StoredCommit, toRecordedEvents } from '@lightdom/domain';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ProjectionChange } from '../projections/projection.js';
import { qualified, readModelTables } from '../schema/tables.js';
import { storableField, storableJson, storableText } from '../storable.js';
import {
  eventsChannel,
  globEscape,
  type HotViewOptions,
  type HotViewType,
  hotViewKey,
  hotViewTypes,
  invalidationChannel,
  viewKeys,
} from './keys.js';
import { advancePositionLua, applyViewLua, applyViewsLua, finishRebuildLua, publishManyLua } from './scripts.js';

type Row = Record<string, unknown>;

/** Where each hot view is rebuilt from, and the projection whose checkpoint says how far that table is. */
const sources: Record<HotViewType, { table: string; projection: string }> = {
  campaign: { table: readModelTables.campaigns, projection: 'campaigns' },
  workflowRun: { table: readModelTables.workflowRuns, projection: 'workflow_runs' },
  aiTask: { table: readModelTables.aiTasks, projection: 'ai_tasks' },
};

const isHotViewType = (t: string): t is HotViewType => (hotViewTypes as readonly string[]).includes(t);

/** A column as a hash field: the same text whether the row came from `returning *` or a later `select`. */
function field(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  return storableField(v);
}

const cents = (v: unknown): string => String(Math.round(Number(v ?? 0) * 100) || 0);

/** The summed fields of a campaign (whole numbers, so HINCRBY keeps them exact). */
function totalsOf(type: HotViewType, row: Row): [string, string][] {
  if (type !== 'campaign') return [];
  return [
    ['budget_cents', cents(row.budget_amount)],
    ['spend_cents', cents(row.spend)],
    ['impressions', String(row.impressions ?? 0)],
    ['clicks', String(row.clicks ?? 0)],
    ['conversions', String(row.conversions ?? 0)],
  ];
}

interface Scripts {
  lightdomApplyView(...args: (string | number)[]): unknown;
  lightdomAdvancePosition(key: string, position: number): Promise<number>;
  lightdomFinishRebuild(epoch: string, position: string, token: string, through: number): Promise<number>;
  lightdomPublishMany(...channelsAndMessages: string[]): unknown;
  lightdomApplyViews(numberOfKeys: number, ...keysThenArgs: (string | number)[]): unknown;
}

/** Views per `lightdomApplyViews` call. */
const viewChunk = 100;

/** Feed messages per `lightdomPublishMany` call: bounds one script's run inside Redis. */
const publishChunk = 500;

/** A commit's events as the feed carries them; a forged commit whose events are not objects yields none. */
function feedEvents(commit: StoredCommit): RecordedEvent[] {
  if (!commit.events.every((e) => e !== null && typeof e === 'object')) return [];
  return toRecordedEvents(commit);
}

export interface HotViews {
  /**
   * After a batch's transaction committed: writes the changed views, publishes the
   * commits' events, and moves the views' position to `through` (not when an earlier
   * write failed and was not yet repaired). Throws when Redis fails; the views are then
   * repaired by the next `check`.
   */
  publish(commits: StoredCommit[], changes: ProjectionChange[], through: number): Promise<void>;
  /**
   * Repairs the views from Postgres when they need it: all of them when the position key
   * is gone (Redis lost its data), the rows past it after a failed write or a restart.
   * Returns what it did.
   */
  check(): Promise<'ok' | 'rebuilt' | 'repaired'>;
  /** Marks the views as needing repair (e.g. at start, after a crash between commit and publish). */
  markDirty(): void;
}

/**
 * Redis side of the read model: one hash per campaign, run and AI task (the Postgres row),
 * status sets, campaign totals and a by-spend sorted set, all moved by position so a
 * replayed or late write never rolls a view back; and the Pub/Sub feed. Text is written
 * through `storableText` (see storable.ts), as in the Postgres tables.
 */
export function createHotViews(deps: { redis: Redis; pool: pg.Pool; schema: string }, opts: HotViewOptions): HotViews {
  const { redis, pool, schema } = deps;
  const keys = viewKeys(opts);
  // Named commands are sent as EVALSHA: the script body crosses the wire once.
  if (!('lightdomApplyView' in redis)) {
    redis.defineCommand('lightdomApplyView', { numberOfKeys: 4, lua: applyViewLua });
    redis.defineCommand('lightdomAdvancePosition', { numberOfKeys: 1, lua: advancePositionLua });
    redis.defineCommand('lightdomFinishRebuild', { numberOfKeys: 2, lua: finishRebuildLua });
  }
  if (!('lightdomPublishMany' in redis)) {
    redis.defineCommand('lightdomPublishMany', { numberOfKeys: 0, lua: publishManyLua });
  }
  if (!('lightdomApplyViews' in redis)) {
    // No fixed number of keys: each call passes it first (four per view).
    redis.defineCommand('lightdomApplyViews', { lua: applyViewsLua });
  }
  const scripts = (r: unknown) => r as Scripts;
  // Failed writes counted, and how many of them a finished repair covers.
  let failures = 0;
  let repaired = 0;
  const dirty = () => failures !== repaired;
  let checking: Promise<'ok' | 'rebuilt' | 'repaired'> | undefined;
  // Set while a rebuild deletes every view. A write landing between two SCAN pages could
  // survive in one key (a status set) and be deleted in another (the hash), leaving an id in
  // a status it has left; so publishes wait for the clearing, and the rebuild's Postgres
  // snapshot and position checks cover what they held back.
  let clearing: Promise<void> | undefined;

  /** One view's keys and arguments, as applyView takes them. */
  function viewCall(type: HotViewType, id: string, row: Row, position: number) {
    const totals = totalsOf(type, row);
    const fields: string[] = [];
    for (const [k, v] of Object.entries(row)) fields.push(storableText(k), field(v));
    for (const [k, v] of totals) fields.push(k, v);
    return {
      keys: [hotViewKey(opts, type, id), keys.totals(type), keys.bySpend, keys.statuses(type)],
      args: [
        position,
        keys.statusPrefix(type),
        storableText(id),
        field(row.status),
        type === 'campaign' ? String(Number(row.spend ?? 0) || 0) : '',
        totals.length,
        ...totals.map(([k]) => k),
        ...fields,
      ],
    };
  }

  function writeView(target: unknown, type: HotViewType, id: string, row: Row, position: number): void {
    const { keys: viewKeys, args } = viewCall(type, id, row, position);
    scripts(target).lightdomApplyView(...viewKeys, ...args);
  }

  /** Writes the views `viewChunk` at a time, one command each. */
  function writeViews(target: unknown, views: { type: HotViewType; id: string; row: Row; position: number }[]): void {
    for (let i = 0; i < views.length; i += viewChunk) {
      const callKeys: string[] = [];
      const callArgs: (string | number)[] = [];
      for (const v of views.slice(i, i + viewChunk)) {
        const call = viewCall(v.type, v.id, v.row, v.position);
        callKeys.push(...call.keys);
        callArgs.push(call.args.length, ...call.args);
      }
      scripts(target).lightdomApplyViews(callKeys.length, ...callKeys, ...callArgs);
    }
  }

  async function exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    return results.map(([, r]) => r);
  }

  async function deleteAll(): Promise<void> {
    const patterns = [
      `${globEscape(opts.keyPrefix)}views:*`,
      ...hotViewTypes.map((t) => `${globEscape(hotViewKey(opts, t, ''))}*`),
    ];
    for (const match of patterns) {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        // The position key is already gone; the epoch marks this rebuild.
        const doomed = found.filter((k) => k !== keys.position && k !== keys.epoch);
        if (doomed.length > 0) await redis.unlink(...doomed);
        cursor = next;
      } while (cursor !== '0');
    }
  }

  /** Rewrites every view whose row moved past `from`; from 0, every view after clearing them. */
  async function syncFrom(from: number): Promise<void> {
    const token = randomUUID();
    await redis.set(keys.epoch, token);
    if (from === 0) {
      clearing = (async () => {
        await redis.del(keys.position);
        await deleteAll();
      })();
      try {
        await clearing;
      } finally {
        clearing = undefined;
      }
    }
    const client = await pool.connect();
    let through = 0;
    const rows: { type: HotViewType; row: Row }[] = [];
    try {
      // One snapshot: the rows and the checkpoints that say how far they are.
      await client.query('begin isolation level repeatable read read only');
      const cps = await client.query<{ p: string | null }>(
        `select min(position) p from ${qualified(schema, readModelTables.checkpoints)} where name = any($1)`,
        [Object.values(sources).map((s) => s.projection)],
      );
      through = Number(cps.rows[0]?.p ?? 0);
      for (const type of hotViewTypes) {
        const table = qualified(schema, sources[type].table);
        let after = '';
        for (;;) {
          const page = await client.query(
            `select * from ${table} where position > $1 and id > $2 order by id limit 1000`,
            [from, after],
          );
          for (const row of page.rows) rows.push({ type, row });
          if (page.rows.length < 1000) break;
          after = page.rows.at(-1)!.id as string;
        }
      }
      await client.query('commit');
    } finally {
      client.release();
    }
    for (let i = 0; i < rows.length; i += 500) {
      const pipeline = redis.pipeline();
      for (const { type, row } of rows.slice(i, i + 500)) {
        writeView(pipeline, type, row.id as string, row, Number(row.position));
      }
      await exec(pipeline);
    }
    const finished = await scripts(redis).lightdomFinishRebuild(keys.epoch, keys.position, token, through);
    if (finished !== 1) throw new Error('Redis lost the views while they were rebuilt; starting over');
  }

  async function runCheck(): Promise<'ok' | 'rebuilt' | 'repaired'> {
    const position = await redis.get(keys.position);
    const covers = failures;
    if (position === null) {
      await syncFrom(0);
      repaired = covers;
      return 'rebuilt';
    }
    if (!dirty()) return 'ok';
    await syncFrom(Number(position));
    repaired = covers;
    return 'repaired';
  }

  return {
    markDirty() {
      failures++;
    },
    check() {
      // One check at a time; a caller during one waits for it.
      checking ??= runCheck().finally(() => {
        checking = undefined;
      });
      return checking;
    },
    async publish(commits, changes, through) {
      while (clearing) await clearing.catch(() => undefined);
      const pipeline = redis.pipeline();
      writeViews(
        pipeline,
        changes.flatMap((c) =>
          isHotViewType(c.aggregateType)
            ? [{ type: c.aggregateType, id: c.aggregateId, row: c.view, position: c.position }]
            : [],
        ),
      );
      // The feed in commit order, several hundred messages per command.
      let feed: string[] = [];
      const flushFeed = () => {
        if (feed.length > 0) scripts(pipeline).lightdomPublishMany(...feed);
        feed = [];
      };
      const invalidations = invalidationChannel(opts);
      for (const commit of commits) {
        // Storable JSON: the same text as the tables hold, and no depth overflows the encoder.
        for (const event of feedEvents(commit)) {
          feed.push(eventsChannel(opts, event.aggregateType), storableJson(event satisfies RecordedEvent));
        }
        feed.push(
          invalidations,
          storableJson({
            aggregateType: commit.aggregateType,
            aggregateId: commit.aggregateId,
            position: commit.position,
          }),
        );
        if (feed.length >= 2 * publishChunk) flushFeed();
      }
      flushFeed();
      try {
        await exec(pipeline);
      } catch (err) {
        failures++;
        throw err;
      }
      // A repair pending: the position waits for it, so it never claims a write that was lost.
      if (dirty()) return;
      await scripts(redis).lightdomAdvancePosition(keys.position, through);
    },
  };
}
