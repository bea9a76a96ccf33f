import { randomUUID } from 'node:crypto';
import { deciders, eventVersions, upcastEvent } from '@lightdom/domain';
import { createAggregateRepository, createEventStore, createKvSnapshotStore, sealCommit } from '@lightdom/eventstore';
import type { NatsConnection } from 'nats';
import { alternate } from '../lib/alternate.js';
import { benchMeta, createCampaignData } from '../lib/campaigns.js';
import { createBenchEnv } from '../lib/env.js';
import { rawReadSubject } from '../lib/rawJetStream.js';
import { median, timeEach } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';

/** The snapshot sits this many commits behind the head: the average tail with snapshotEvery 100. */
const snapshotTail = 50;

/**
 * Appends commits to one campaign until it has `commits`; returns its version and last hash.
 * The stream holds this campaign alone, so the positions are known in advance (1, 2, …):
 * the commits are sealed here, hash-chained as the store does, and published in order with
 * many in flight (one connection keeps their order), each checked against its expected
 * position. Far faster than one append at a time, which a 100,000-commit log needs.
 */
async function writeLongLivedCampaign(
  nc: NatsConnection,
  subject: string,
  id: string,
  from: { version: number; hash: string | null },
  commits: number,
): Promise<{ version: number; hash: string | null }> {
  const js = nc.jetstream();
  let { version, hash } = from;
  const inFlight = new Set<Promise<unknown>>();
  for (; version < commits; version++) {
    const event =
      version === 0
        ? { type: 'CampaignCreated', data: { ...createCampaignData(id), owner: null } }
        : version === 1
          ? { type: 'CampaignLaunched', data: { launchedAt: new Date().toISOString() } }
          : { type: 'CampaignMetricsRecorded', data: { impressions: 100, clicks: 3, conversions: 1, spend: 0 } };
    const meta = benchMeta();
    const { commit, bytes } = sealCommit({
      commitId: randomUUID(),
      aggregateType: 'campaign',
      aggregateId: id,
      version: version + 1,
      previousPosition: version,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      actor: meta.actor,
      timestamp: new Date().toISOString(),
      commandType: 'bench',
      commandFingerprint: '0'.repeat(64),
      events: [{ id: randomUUID(), ...event, schemaVersion: eventVersions[event.type] ?? 1 }],
      prevHash: hash,
    });
    hash = commit.hash;
    const position = version + 1;
    const p = js.publish(subject, bytes, { expect: { lastSubjectSequence: version } }).then((ack) => {
      if (ack.seq !== position) throw new Error(`commit ${position} landed at ${ack.seq}`);
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => undefined);
    if (inFlight.size >= 256) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { version, hash };
}

export const aggregateLoad: Scenario = {
  name: 'aggregate-load',
  description:
    'load one long-lived campaign at two lengths (10,000 and 100,000 commits; 2,000 and 10,000 in quick mode) cold without a snapshot, cold from a snapshot plus its tail, and warm from the cache; beside reading the same messages raw with an ordered consumer',
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    const env = await createBenchEnv(ctx.scope, 'agg');
    const { nc, stream, subjectPrefix } = env.nats;
    // Two lengths of the one aggregate (the stream holds nothing else), to show how loading grows.
    const sizes = ctx.pick([2_000, 10_000], [10_000, 100_000]);
    const store = createEventStore({ nc }, { stream, subjectPrefix, upcast: upcastEvent });
    await store.ensureStream();
    const id = `long-lived-${Date.now().toString(36)}`;
    const subject = `${subjectPrefix}.campaign.${id}`;
    const js = nc.jetstream();
    const snapshots = await createKvSnapshotStore(js, { bucket: env.kvBucket('snap') });
    let written = { version: 0, hash: null as string | null };
    const figures = [];
    for (const commits of sizes) {
      const reps = commits > 20_000 ? 5 : ctx.pick(10, 15);
      ctx.log(`writing the campaign up to ${commits.toLocaleString('en-US')} commits…`);
      written = await writeLongLivedCampaign(nc, subject, id, written, commits);
      const expectVersion = async (p: Promise<{ version: number }>) => {
        const { version } = await p;
        if (version !== commits) throw new Error(`loaded version ${version}, expected ${commits}`);
      };
      const cold = createAggregateRepository({ store, deciders }, { cacheSize: 0 });
      // Positions are 1..commits (see writeLongLivedCampaign).
      const at = await cold.loadAt('campaign', id, commits - snapshotTail);
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
      figures.push(
        fig(
          'cold, no snapshot',
          median(runs.cold),
          `median of ${reps}; reads every commit through an ephemeral consumer (pull batches of 1,000), decodes, upcasts and folds ${n} events`,
        ),
        fig(
          'cold, from snapshot',
          median(runs.snapshot),
          `median of ${reps}; snapshot in NATS KV ${snapshotTail} commits behind the head (the average tail with snapshotEvery 100), then the tail from the log`,
        ),
        fig('warm, cached', cachedMs, 'median of 1,000; what a command decides on: the cached state, no round trip'),
        fig(
          'warm, cached + verified',
          median(runs.verified),
          `median of ${reps}; the cached state plus one direct get of the last commit to confirm it is current`,
        ),
      );
    }
    return figures;
  },
};
