import { deciders, eventVersions, upcastEvent } from '@lightdom/domain';
import {
  createAggregateRepository,
  createEventStore,
  createKvSnapshotStore,
  type EventStore,
} from '@lightdom/eventstore';
import { alternate } from '../lib/alternate.js';
import { benchMeta, createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { rawReadSubject } from '../lib/rawJetStream.js';
import { median, timeEach } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';

/** The snapshot sits this many commits behind the head: the average tail with snapshotEvery 100. */
const snapshotTail = 50;

/** Appends `commits` commits to one campaign, one after another; returns each commit's position. */
async function writeLongLivedCampaign(store: EventStore, id: string, commits: number): Promise<number[]> {
  const positions: number[] = [];
  let position = 0;
  let hash: string | null = null;
  for (let version = 0; version < commits; version++) {
    const event =
      version === 0
        ? { type: 'CampaignCreated', data: { ...createCampaignData(id), owner: null } }
        : version === 1
          ? { type: 'CampaignLaunched', data: { launchedAt: new Date().toISOString() } }
          : { type: 'CampaignMetricsRecorded', data: { impressions: 100, clicks: 3, conversions: 1, spend: 0 } };
    const { commit } = await store.append({
      aggregateType: 'campaign',
      aggregateId: id,
      expectedPosition: position,
      expectedVersion: version,
      prevHash: hash,
      events: [{ ...event, schemaVersion: eventVersions[event.type] ?? 1 }],
      metadata: {
        ...benchMeta(),
        timestamp: new Date().toISOString(),
        commandType: 'bench',
        commandFingerprint: '0'.repeat(64),
      },
    });
    position = commit.position;
    hash = commit.hash;
    positions.push(position);
  }
  return positions;
}

export const aggregateLoad: Scenario = {
  name: 'aggregate-load',
  description:
    'load one long-lived campaign (10,000 commits; 2,000 in quick mode) cold without a snapshot, cold from a snapshot plus its tail, and warm from the cache; beside reading the same messages raw with an ordered consumer',
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'agg');
    const { nc, stream, subjectPrefix } = env.nats;
    const commits = ctx.pick(2000, 10_000);
    const reps = ctx.pick(10, 15);
    const store = createEventStore({ nc }, { stream, subjectPrefix, upcast: upcastEvent });
    await store.ensureStream();
    const id = `long-lived-${Date.now().toString(36)}`;
    ctx.log(`writing ${commits} commits to one campaign…`);
    const positions = await writeLongLivedCampaign(store, id, commits);

    const subject = `${subjectPrefix}.campaign.${id}`;
    const js = nc.jetstream();
    const expectVersion = async (p: Promise<{ version: number }>) => {
      const { version } = await p;
      if (version !== commits) throw new Error(`loaded version ${version}, expected ${commits}`);
    };
    const cold = createAggregateRepository({ store, deciders }, { cacheSize: 0 });
    const snapshots = await createKvSnapshotStore(js, { bucket: env.kvBucket('snap') });
    const at = await cold.loadAt('campaign', id, positions[commits - 1 - snapshotTail]!);
    await snapshots.put('campaign', id, {
      state: at.state,
      version: at.version,
      position: at.position,
      hash: at.hash,
      stateVersion: 1,
    });
    const fromSnapshot = createAggregateRepository({ store, deciders, snapshots }, { cacheSize: 0 });
    const warm = createAggregateRepository({ store, deciders }, {});
    await expectVersion(warm.load('campaign', id));

    const timed = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    const variants = {
      raw: () =>
        timed(async () => {
          const { count } = await rawReadSubject(js, stream, subject, commits);
          if (count !== commits) throw new Error(`raw read got ${count} of ${commits}`);
        }),
      cold: () => timed(() => expectVersion(cold.load('campaign', id))),
      snapshot: () => timed(() => expectVersion(fromSnapshot.load('campaign', id))),
      verified: () => timed(() => expectVersion(warm.load('campaign', id, { verify: true }))),
    };
    for (const v of Object.values(variants)) await v();
    ctx.log(`${reps} rounds, in turn: raw read, cold load, load from snapshot, warm verified load…`);
    const runs = await alternate(reps, variants);
    const raw = median(runs.raw);
    const coldMs = median(runs.cold);
    const snapshotMs = median(runs.snapshot);
    const verifiedMs = median(runs.verified);
    const cachedMs = median(await timeEach(1000, () => expectVersion(warm.load('campaign', id))));

    const n = commits.toLocaleString('en-US');
    const baseline = `raw read of the ${n} messages (ordered consumer)`;
    const fig = (metric: string, value: number, notes?: string) =>
      ctx.figure({
        metric: `load ${n}-commit aggregate: ${metric}`,
        unit: 'ms',
        value,
        baseline,
        baselineValue: raw,
        ...(notes ? { notes } : {}),
      });
    return [
      fig(
        'cold, no snapshot',
        coldMs,
        `median of ${reps}; reads every commit through an ephemeral consumer (pull batches of 1,000), decodes, upcasts and folds ${n} events`,
      ),
      fig(
        'cold, from snapshot',
        snapshotMs,
        `median of ${reps}; snapshot in NATS KV ${snapshotTail} commits behind the head (the average tail with snapshotEvery 100), then the tail from the log`,
      ),
      fig('warm, cached', cachedMs, 'median of 1,000; what a command decides on: the cached state, no round trip'),
      fig(
        'warm, cached + verified',
        verifiedMs,
        `median of ${reps}; the cached state plus one direct get of the last commit to confirm it is current`,
      ),
    ];
  },
};
