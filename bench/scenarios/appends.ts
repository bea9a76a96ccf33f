import { eventVersions, isLightdomError, upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, createKvSnapshotStore, type EventStore } from '@lightdom/eventstore';
import { alternate } from '../lib/alternate.js';
import { benchMeta, createCampaign, createCampaignData, launchCampaign, recordMetrics } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { payloadOfSize, rawPublish, storedSize } from '../lib/rawJetStream.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';
import { mergeWindowed, runWindowed, type WindowedResult } from '../lib/windowed.js';

const window = 64;
/** Aggregates shared by the contended run: window / contended commands in flight on each. */
const contended = 16;

const mustSucceed = (what: string, r: WindowedResult) => {
  if (r.errors > 0) throw new Error(`${what}: ${r.errors} of ${r.ok + r.errors} failed, first: ${r.firstError}`);
  return r;
};

export const appends: Scenario = {
  name: 'appends',
  description: `commits/s into JetStream through the event store and the command handler, ${window} in flight, beside raw js.publish of the same payload size with as many in flight`,
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'appends');
    const { nc, stream, subjectPrefix } = env.nats;
    const rounds = ctx.pick(3, 5);
    const roundMs = ctx.pick(1000, 2000);
    const warmupMs = ctx.pick(300, 1000);
    const store = createEventStore({ nc }, { stream, subjectPrefix, upcast: upcastEvent });
    await store.ensureStream();
    let conflicts = 0;
    const counting: EventStore = {
      ...store,
      async append(input) {
        try {
          return await store.append(input);
        } catch (err) {
          if (isLightdomError(err, 'CONCURRENCY_CONFLICT')) conflicts++;
          throw err;
        }
      },
    };
    // Wired as the command-api wires it: snapshots in NATS KV (the idempotency store only
    // matters for commands with a key, and these have none).
    const snapshots = await createKvSnapshotStore(nc.jetstream(), { bucket: env.kvBucket('snap') });
    const handler = createCommandHandler({ store: counting, snapshots });

    const sample = await handler.handle(createCampaign('sample'), benchMeta());
    const bytes = await storedSize(nc, stream, sample.position);
    const raw = await env.rawStream('raw');
    const payload = payloadOfSize(bytes);
    const js = nc.jetstream();
    const runId = Date.now().toString(36);
    let directSeq = 0;
    const created = createCampaignData('direct');
    const launched: string[] = [];
    await runWindowed({
      window,
      count: window,
      op: async (i) => {
        const { id } = await handler.handle(createCampaign(`warm${i}`), benchMeta());
        await handler.handle(launchCampaign(id), benchMeta());
        launched.push(id);
      },
    });

    const variants = {
      raw: (ms: number) => rawPublish({ js, raw, payload, window, durationMs: ms }),
      store: (ms: number) =>
        runWindowed({
          window,
          durationMs: ms,
          op: () =>
            store.append({
              aggregateType: 'campaign',
              aggregateId: `d${runId}-${directSeq++}`,
              expectedPosition: 0,
              expectedVersion: 0,
              prevHash: null,
              events: [
                {
                  type: 'CampaignCreated',
                  schemaVersion: eventVersions.CampaignCreated ?? 1,
                  data: { ...created, owner: null },
                },
              ],
              metadata: {
                ...benchMeta(),
                timestamp: new Date().toISOString(),
                commandType: 'CreateCampaign',
                commandFingerprint: '0'.repeat(64),
              },
            }),
        }),
      create: (ms: number) =>
        runWindowed({ window, durationMs: ms, op: (i) => handler.handle(createCampaign(i), benchMeta()) }),
      cached: (ms: number) =>
        runWindowed({
          window,
          durationMs: ms,
          op: (i, slot) => handler.handle(recordMetrics(launched[slot]!, i), benchMeta()),
        }),
      contended: (ms: number) =>
        runWindowed({
          window,
          durationMs: ms,
          op: (i, slot) => handler.handle(recordMetrics(launched[slot % contended]!, i), benchMeta()),
        }),
    };
    ctx.log(
      `warm-up, then ${rounds} rounds of ${roundMs} ms each, in turn: raw publish (${bytes}-byte payload), store.append, CreateCampaign, cached RecordCampaignMetrics, contended…`,
    );
    for (const v of Object.values(variants)) await v(warmupMs);
    conflicts = 0;
    const runs = await alternate(rounds, {
      raw: () => variants.raw(roundMs),
      store: () => variants.store(roundMs),
      create: () => variants.create(roundMs),
      cached: () => variants.cached(roundMs),
      contended: () => variants.contended(roundMs),
    });
    const rawRun = mustSucceed('raw publish', mergeWindowed(runs.raw));
    const storeRun = mustSucceed('store.append', mergeWindowed(runs.store));
    const createRun = mustSucceed('CreateCampaign', mergeWindowed(runs.create));
    const warmRun = mustSucceed('RecordCampaignMetrics', mergeWindowed(runs.cached));
    const contendedRun = mergeWindowed(runs.contended);
    if (contendedRun.ok === 0) throw new Error(`contended run: nothing succeeded (${contendedRun.firstError})`);

    const rawLat = summarize(rawRun.latenciesMs);
    const createLat = summarize(createRun.latenciesMs);
    const baseline = `raw js.publish, ${window} in flight`;
    const perSecond = { unit: 'commits/s', baseline, baselineValue: rawRun.rate };
    return [
      ctx.figure({
        metric: 'store.append, new aggregates',
        value: storeRun.rate,
        ...perSecond,
        notes: `payload ${bytes} bytes on both sides; the store adds hashing, JSON and three headers (expected last subject sequence, correlation and commit ids)`,
      }),
      ctx.figure({
        metric: 'command handler: CreateCampaign',
        value: createRun.rate,
        ...perSecond,
        notes:
          'wired as in the command-api (KV snapshot store): a create skips the load (no snapshot get, no last-commit get; the append expects position 0 and a clash is decided again on a verified load), so one round trip to NATS, like raw publish',
      }),
      ctx.figure({
        metric: `command handler: RecordCampaignMetrics, ${window} aggregates (cached)`,
        value: warmRun.rate,
        ...perSecond,
        notes:
          'state comes from the in-memory cache, so a command is validate, decide, append: one round trip, like raw publish',
      }),
      ctx.figure({
        metric: `command handler: ${window} in flight over ${contended} aggregates`,
        value: contendedRun.rate,
        ...perSecond,
        notes: `${window / contended} commands in flight per aggregate; the handler queues commands per aggregate inside a process, so they run one after another (${conflicts} concurrency conflicts, ${contendedRun.errors} failures)`,
      }),
      ctx.figure({
        metric: 'CreateCampaign latency p50',
        unit: 'ms',
        value: createLat.p50,
        baseline: `raw js.publish p50, ${window} in flight`,
        baselineValue: rawLat.p50,
      }),
      ctx.figure({
        metric: 'CreateCampaign latency p99',
        unit: 'ms',
        value: createLat.p99,
        baseline: `raw js.publish p99, ${window} in flight`,
        baselineValue: rawLat.p99,
      }),
    ];
  },
};
