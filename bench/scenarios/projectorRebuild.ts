import { setTimeout as sleep } from 'node:timers/promises';
import { upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import { projectionNames, qualified, readModelTables, rebuildProjections } from '@lightdom/readmodel';
import { benchMeta, createCampaign, launchCampaign, recordMetrics } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { cpuSeconds, peakRssMb, pidOf, startProcess, stopProcess } from '../lib/processes.js';
import type { Scenario } from '../lib/types.js';
import { runWindowed } from '../lib/windowed.js';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: the bench is not a turbo task, so turbo's cache never sees it.
const batchOverride = process.env.BENCH_PROJECTOR_BATCH_SIZE;

/** Commits per campaign in the pre-filled log: created, launched, then metrics. */
const commitsPerCampaign = 25;

export const projectorRebuild: Scenario = {
  name: 'projector-rebuild',
  description: `at two log sizes (2,000 and 10,000 commits in quick mode, 10,000 and 100,000 in the full run): pre-fill the log, then time the projector (a child process, every projection) rebuilding the read model from position 0 into a fresh schema, and \`lightdom projections rebuild all\` (build beside, then swap) on that schema; beside a raw consume-and-ack of the same messages in a child process`,
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'rebuild');
    const { nc, jsm, stream, subjectPrefix } = env.nats;
    // Two log sizes, so a reader sees how the cost grows with the log.
    const sizes = ctx.pick([2_000, 10_000], [10_000, 100_000]);
    const store = createEventStore({ nc }, { stream, subjectPrefix, upcast: upcastEvent });
    await store.ensureStream();
    const handler = createCommandHandler({ store });
    const ids: string[] = [];
    let filled = 0;

    /** Grows the log to `total` commits: campaigns created and launched, then their metrics. */
    const fillTo = async (total: number) => {
      const campaigns = Math.ceil(total / commitsPerCampaign) - ids.length;
      ctx.log(`filling the log to ${total.toLocaleString('en-US')} commits (${campaigns} more campaigns)…`);
      const made = await runWindowed({
        window: 32,
        count: campaigns,
        op: async (i) => {
          const { id } = await handler.handle(createCampaign(`${total}-${i}`), benchMeta());
          await handler.handle(launchCampaign(id), benchMeta());
          ids.push(id);
        },
      });
      if (made.errors > 0) throw new Error(`fill: ${made.errors} commands failed, first: ${made.firstError}`);
      filled = (await jsm.streams.info(stream)).state.last_seq;
      const fill = await runWindowed({
        window: 32,
        count: total - filled,
        op: (i) => handler.handle(recordMetrics(ids[i % ids.length]!, i), benchMeta()),
      });
      if (fill.errors > 0) throw new Error(`fill: ${fill.errors} commands failed, first: ${fill.firstError}`);
      return (await jsm.streams.info(stream)).state.last_seq;
    };

    const rawConsume = async (head: number) => {
      const proc = startProcess(ctx.scope, 'fixture', 'rawConsumer', {
        NATS_URL: env.urls.natsUrl,
        STREAM: stream,
        COUNT: String(head),
        BATCH: '200',
      });
      await proc.waitForLine(/"msg":"consuming"/);
      const t0 = performance.now();
      const done = JSON.parse(await proc.waitForLine(/"msg":"done"/, 300_000)) as { count: number; peakRssMb: number };
      const seconds = (performance.now() - t0) / 1000;
      await stopProcess(proc);
      if (done.count !== head) throw new Error(`raw consumer got ${done.count} of ${head}`);
      return { seconds, peakRssMb: done.peakRssMb };
    };

    const measureAt = async (head: number, label: string) => {
      // Raw runs before and after the rebuild, so a change in the machine's load shows in both.
      ctx.log(`raw consume-and-ack of ${head} messages…`);
      const rawBefore = await rawConsume(head);

      ctx.log('projector rebuild into a fresh schema…');
      const schema = env.schemaName(`rebuild${label}`);
      const projector = startProcess(
        ctx.scope,
        'service',
        'projector',
        env.serviceEnv({
          PORT: '0',
          DB_SCHEMA: schema,
          PROJECTOR_DURABLE: `rebuild${label}`,
          // For choosing the default by measurement: BENCH_PROJECTOR_BATCH_SIZE=… npm run bench.
          ...(batchOverride ? { PROJECTOR_BATCH_SIZE: batchOverride } : {}),
        }),
      );
      await projector.waitForLine(/"msg":"projecting"/, 30_000);
      const t0 = performance.now();
      const cpu0 = cpuSeconds(pidOf(projector));
      const deadline = Date.now() + 600_000;
      for (;;) {
        const { rows } = await env.pg.pool.query<{ p: string | null }>(
          `select min(position) as p from ${qualified(schema, readModelTables.checkpoints)}`,
        );
        if (Number(rows[0]?.p ?? 0) >= head) break;
        if (Date.now() > deadline) throw new Error(`the projector did not reach ${head}:\n${projector.output()}`);
        await sleep(10);
      }
      const seconds = (performance.now() - t0) / 1000;
      const cores = (cpuSeconds(pidOf(projector)) - cpu0) / seconds;
      const projectorRss = peakRssMb(pidOf(projector));
      await stopProcess(projector);

      ctx.log('lightdom projections rebuild all (beside the live tables, then swap)…');
      const swap = await rebuildProjections(
        { nc, pool: env.pg.pool },
        { stream, schema, names: projectionNames, dropOld: true, batchSize: 500 },
      );

      ctx.log('raw consume-and-ack again…');
      const rawAfter = await rawConsume(head);
      const rawRate = (2 * head) / (rawBefore.seconds + rawAfter.seconds);

      const { rows } = await env.pg.pool.query<{ n: string }>(
        `select count(*) as n from ${qualified(schema, readModelTables.campaigns)}`,
      );
      if (Number(rows[0]?.n) !== ids.length) {
        throw new Error(`rebuild has ${rows[0]?.n} campaigns, expected ${ids.length}`);
      }
      const n = head.toLocaleString('en-US');
      return [
        ctx.figure({
          metric: `projector rebuild (${projectionNames.length} projections), ${n} commits`,
          unit: 'commits/s',
          value: head / seconds,
          baseline: 'raw consume-and-ack, same messages',
          baselineValue: rawRate,
          notes: `${ids.length} campaigns (${commitsPerCampaign} commits each, on average); the projector as deployed (PROJECTOR_BATCH_SIZE ${batchOverride ?? 'default'}): each batch in one transaction (rows of every projection + one checkpoint statement), then Redis hot views and Pub/Sub pipelined, one batch at a time; the projector process used ${cores.toFixed(2)} cores meanwhile; both timed from the consumer's start to the last commit applied: ${seconds.toFixed(2)} s, raw ${rawBefore.seconds.toFixed(2)} s before and ${rawAfter.seconds.toFixed(2)} s after`,
        }),
        ctx.figure({
          metric: `projections rebuild all (${projectionNames.length} projections, build beside and swap), ${n} commits`,
          unit: 'commits/s',
          value: swap.rate,
          baseline: 'raw consume-and-ack, same messages',
          baselineValue: rawRate,
          notes: `in the bench process: an ordered consumer, batches of 500, every projection applied per batch in one transaction, then the swap under the checkpoints' lock; ${swap.seconds.toFixed(2)} s`,
        }),
        ctx.figure({
          metric: `projector peak RSS during rebuild, ${n} commits`,
          unit: 'MB',
          value: projectorRss,
          baseline: 'raw consume-and-ack process peak RSS',
          baselineValue: Math.max(rawBefore.peakRssMb, rawAfter.peakRssMb),
          notes: 'VmHWM; both are node with the tsx loader',
        }),
      ];
    };

    const figures = [];
    for (const [i, size] of sizes.entries()) figures.push(...(await measureAt(await fillTo(size), String(i))));
    return figures;
  },
};
