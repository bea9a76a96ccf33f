import { type RecordedEvent, type StoredCommit, toRecordedEvents } from '@lightdom/domain';
import type { Redis } from 'ioredis';
import type { ProjectionChange } from './projection.js';
import { storableField, storableJson, storableText } from './storable.js';

export interface HotViewOptions {
  /** Prefix of every key. Default `lightdom:`. */
  keyPrefix: string;
  /** Prefix of every Pub/Sub channel. Default empty, so channels read `campaign:events`. */
  channelPrefix: string;
}

// Writes a hash only if it moves forward, so a replayed batch never rolls a view back.
const setIfNewer = `
local cur = redis.call('HGET', KEYS[1], 'position')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`;

interface SetIfNewer {
  lightdomSetIfNewer(key: string, position: number, ...fields: (string | number)[]): unknown;
}

export const eventsChannel = (opts: HotViewOptions, aggregateType: string) =>
  `${opts.channelPrefix}${storableText(String(aggregateType))}:events`;
export const invalidationChannel = (opts: HotViewOptions) => `${opts.channelPrefix}cache:invalidate`;
export const hotViewKey = (opts: HotViewOptions, aggregateType: string, id: string) =>
  `${opts.keyPrefix}${storableText(String(aggregateType))}:${storableText(String(id))}`;

/** A commit's events as the feed carries them; a forged commit whose events are not objects yields none. */
function feedEvents(commit: StoredCommit): RecordedEvent[] {
  if (!commit.events.every((e) => e !== null && typeof e === 'object')) return [];
  return toRecordedEvents(commit);
}

/**
 * Redis side of the projector: hot views (one hash per aggregate) and the Pub/Sub feed,
 * written after the Postgres transaction commits. Delivery on the feed is at least once:
 * a batch replayed after a crash publishes again, and every message carries its
 * position so subscribers can drop what they have seen. Text is written through
 * `storableText` (see storable.ts), as in the Postgres tables.
 */
export function createHotViews(redis: Redis, opts: HotViewOptions) {
  // A named command is sent as EVALSHA: the script body crosses the wire once, not per view.
  if (!('lightdomSetIfNewer' in redis)) {
    redis.defineCommand('lightdomSetIfNewer', { numberOfKeys: 1, lua: setIfNewer });
  }
  return {
    async publish(
      commits: StoredCommit[],
      changes: ProjectionChange[],
      checkpoint: { name: string; position: number },
    ) {
      const pipeline = redis.pipeline();
      for (const c of changes) {
        const fields: (string | number)[] = [];
        for (const [k, v] of Object.entries(c.view)) {
          fields.push(storableText(k), storableField(v));
        }
        (pipeline as unknown as SetIfNewer).lightdomSetIfNewer(
          hotViewKey(opts, c.aggregateType, c.aggregateId),
          c.position,
          ...fields,
        );
      }
      pipeline.set(`${opts.keyPrefix}projection:${checkpoint.name}:position`, checkpoint.position);
      for (const commit of commits) {
        // Storable JSON: the same text as the tables hold, and no depth overflows the encoder.
        for (const event of feedEvents(commit)) {
          pipeline.publish(eventsChannel(opts, event.aggregateType), storableJson(event satisfies RecordedEvent));
        }
        pipeline.publish(
          invalidationChannel(opts),
          storableJson({
            aggregateType: commit.aggregateType,
            aggregateId: commit.aggregateId,
            position: commit.position,
          }),
        );
      }
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    },
  };
}
