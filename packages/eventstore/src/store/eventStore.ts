import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Commit, EventRecord, StoredCommit } from '@lightdom/domain';
import { LightdomError } from '@lightdom/domain';
import type { StoredMsg } from 'nats';
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  nanos,
  headers as natsHeaders,
} from 'nats';
import type { Logger } from 'pino';
import { defaultStreamOptions, type EventStreamOptions, ensureEventStream } from '../stream.js';
import { aggregateSubject, typeSubject } from '../subjects.js';
import { decodeCommit, sealCommit } from './commitCodec.js';
import { isNotFound, translateNatsError } from './natsErrors.js';

const isSubjectToken = (token: string): boolean => /^[A-Za-z0-9_-]{1,100}$/.test(token);

interface DirectStreamAPI {
  getMessage(stream: string, query: { seq: number } | { last_by_subj: string }): Promise<StoredMsg>;
}

export interface EventStoreDeps {
  nc: NatsConnection;
  /** Reports whether NATS is reachable now; commands fail fast with UNAVAILABLE when not. */
  isConnected?: () => boolean;
  logger?: Logger;
}

export interface EventStoreOptions extends EventStreamOptions {
  /** How long an append waits for JetStream's ack, in ms. Default 1500. */
  publishTimeoutMs: number;
  /** How long a read waits for its messages, in ms. Default 5000. */
  readTimeoutMs: number;
  /** Transforms stored events into their current shape on read. Default: none. */
  upcast?: (event: EventRecord) => EventRecord;
}

export interface AppendInput {
  aggregateType: string;
  aggregateId: string;
  /** Stream sequence of the aggregate's last commit; 0 means it must not exist yet. */
  expectedPosition: number;
  /** Version before this commit. */
  expectedVersion: number;
  prevHash: string | null;
  events: Omit<EventRecord, 'id'>[];
  metadata: {
    commitId?: string;
    correlationId: string;
    causationId: string;
    actor: string;
    via?: string;
    timestamp: string;
    commandType: string;
    commandFingerprint: string;
    idempotencyKey?: string;
    /** Becomes `Nats-Msg-Id`, so JetStream drops a retry inside its duplicate window. */
    msgId?: string;
    traceparent?: string;
  };
}

export interface AppendResult {
  commit: StoredCommit;
  /** JetStream recognised the msgId: `commit` is the earlier one. */
  duplicate: boolean;
}

export interface ReadAllOptions {
  /** Return commits with a position greater than this. Default 0. */
  after?: number;
  /** At most this many commits. Default 100. */
  limit?: number;
  /** Only commits of this aggregate type. */
  aggregateType?: string;
  /** Stop at this position (inclusive). */
  until?: number;
}

export interface SubscribeOptions {
  /** Deliver commits with a position greater than this. Default: the log head (live only). */
  after?: number;
  aggregateType?: string;
  /** Needs `aggregateType`. */
  aggregateId?: string;
}

/** Commits in position order, historical first and then live, until `stop()`. */
export interface CommitSubscription extends AsyncIterable<StoredCommit> {
  stop(): void;
}

export interface EventStore {
  readonly options: Readonly<EventStoreOptions>;
  ensureStream(): Promise<void>;
  append(input: AppendInput): Promise<AppendResult>;
  /** The aggregate's commits after `after` (default 0) up to `until`, in order. */
  readAggregate(
    aggregateType: string,
    aggregateId: string,
    opts?: { after?: number; until?: number },
  ): Promise<StoredCommit[]>;
  /** The aggregate's last commit, or null if it has none. */
  lastCommit(aggregateType: string, aggregateId: string): Promise<StoredCommit | null>;
  readAll(opts?: ReadAllOptions): Promise<StoredCommit[]>;
  getCommit(position: number): Promise<StoredCommit | null>;
  /** The log head: the position of the newest commit (0 when empty). */
  headPosition(): Promise<number>;
  /** Throws UNAVAILABLE at once when NATS is known to be down (nothing would answer in time). */
  assertAvailable(what: string): void;
  /**
   * Follows the log from a position: an ordered consumer (server-side state is
   * ephemeral), so a subscriber that resumes with the last position it saw gets no gap
   * and no duplicate. `stop()` deletes the consumer. Each call holds one JetStream
   * consumer: services fan one subscription out to their clients (command-api's feed hub).
   */
  subscribe(opts?: SubscribeOptions): Promise<CommitSubscription>;
}

export function createEventStore(deps: EventStoreDeps, options: Partial<EventStoreOptions> = {}): EventStore {
  const opts: EventStoreOptions = Object.freeze({
    ...defaultStreamOptions,
    publishTimeoutMs: 1500,
    readTimeoutMs: 5000,
    ...options,
  });
  const { nc } = deps;
  const js: JetStreamClient = nc.jetstream({ timeout: opts.publishTimeoutMs });
  // The v2 client exposes direct gets on the manager object but not on its interface.
  let jsmPromise: Promise<JetStreamManager & { direct: DirectStreamAPI }> | undefined;
  const jsm = () => {
    jsmPromise ??= (
      nc.jetstreamManager({ timeout: opts.readTimeoutMs, checkAPI: false }) as Promise<
        JetStreamManager & { direct: DirectStreamAPI }
      >
    ).catch((err) => {
      jsmPromise = undefined; // a failed first attempt must not poison every later read
      throw err;
    });
    return jsmPromise;
  };
  // On a replicated stream any replica answers a direct get and may serve a read consumer,
  // and a follower may not have applied the newest commits yet: a command decided on its
  // answer is decided on a stale state (found by faults/scale, docs/scaling.md). Single
  // messages then come from the leader (STREAM.MSG.GET), and an aggregate read is repeated
  // until it reaches the last commit the leader named. R1 streams keep direct gets.
  let replicatedPromise: Promise<boolean> | undefined;
  const replicated = () => {
    replicatedPromise ??= jsm()
      .then((m) => m.streams.info(opts.stream))
      .then((i) => (i.config.num_replicas ?? 1) > 1)
      .catch((err) => {
        replicatedPromise = undefined;
        throw err;
      });
    return replicatedPromise;
  };
  const getMessage = async (query: { seq: number } | { last_by_subj: string }) => {
    const m = await jsm();
    return (await replicated()) ? m.streams.getMessage(opts.stream, query) : m.direct.getMessage(opts.stream, query);
  };
  const upcastCommit = (c: StoredCommit): StoredCommit =>
    opts.upcast ? { ...c, events: c.events.map(opts.upcast) } : c;

  function assertConnected(what: string): void {
    if (nc.isClosed() || (deps.isConnected && !deps.isConnected())) {
      throw new LightdomError('UNAVAILABLE', `${what}: NATS is not connected`);
    }
  }

  async function getCommit(position: number): Promise<StoredCommit | null> {
    assertConnected('read');
    try {
      const m = await getMessage({ seq: position });
      return upcastCommit(decodeCommit(m.data, m.seq));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw translateNatsError(err, 'read');
    }
  }

  async function lastCommit(aggregateType: string, aggregateId: string): Promise<StoredCommit | null> {
    // A wildcard or dotted id would address other aggregates' subjects: such ids hold nothing.
    if (!isSubjectToken(aggregateType) || !isSubjectToken(aggregateId)) return null;
    assertConnected('read');
    const subject = aggregateSubject(opts.subjectPrefix, aggregateType, aggregateId);
    try {
      const m = await getMessage({ last_by_subj: subject });
      return upcastCommit(decodeCommit(m.data, m.seq));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw translateNatsError(err, 'read');
    }
  }

  /** Reads `count` messages of `filter` starting at `startSeq` through an ephemeral consumer. */
  async function readRange(filter: string, startSeq: number, limit: number, until?: number) {
    assertConnected('read');
    const manager = await jsm();
    let info: Awaited<ReturnType<typeof manager.consumers.add>>;
    try {
      info = await manager.consumers.add(opts.stream, {
        ack_policy: AckPolicy.None,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, startSeq),
        // The stream holds only `<prefix>.>`, so an all-subjects filter is dropped: nats-server
        // 2.9 delivers unfiltered consumers about four times faster.
        ...(filter === typeSubject(opts.subjectPrefix) ? {} : { filter_subject: filter }),
        inactive_threshold: nanos(30_000),
        mem_storage: true,
        num_replicas: 1,
      });
    } catch (err) {
      throw translateNatsError(err, 'read');
    }
    const want = Math.min(limit, info.num_pending);
    const out: StoredCommit[] = [];
    try {
      if (want === 0) return out;
      const consumer = await js.consumers.get(opts.stream, info.name);
      while (out.length < want) {
        const batch = Math.min(want - out.length, 1000);
        // The time-out is per fetch (no progress for readTimeoutMs), not for the whole read.
        const msgs = await consumer.fetch({ max_messages: batch, expires: opts.readTimeoutMs });
        let got = 0;
        for await (const m of msgs) {
          got++;
          if (until !== undefined && m.seq > until) return out;
          out.push(upcastCommit(decodeCommit(m.data, m.seq)));
          if (out.length >= want) break;
        }
        if (got === 0 && out.length < want) {
          throw new LightdomError('UNAVAILABLE', 'read: timed out waiting for messages');
        }
      }
      return out;
    } catch (err) {
      throw translateNatsError(err, 'read');
    } finally {
      manager.consumers.delete(opts.stream, info.name).catch(() => undefined);
    }
  }

  return {
    options: opts,

    async ensureStream() {
      try {
        await ensureEventStream(await jsm(), opts, { setDuplicateWindow: options.duplicateWindowMs !== undefined });
      } catch (err) {
        throw translateNatsError(err, 'ensure stream');
      }
    },

    async append(input) {
      assertConnected('append');
      const { metadata: meta } = input;
      const body: Omit<Commit, 'hash'> = {
        commitId: meta.commitId ?? randomUUID(),
        aggregateType: input.aggregateType,
        aggregateId: input.aggregateId,
        version: input.expectedVersion + input.events.length,
        previousPosition: input.expectedPosition,
        correlationId: meta.correlationId,
        causationId: meta.causationId,
        actor: meta.actor,
        ...(meta.via ? { via: meta.via } : {}),
        timestamp: meta.timestamp,
        commandType: meta.commandType,
        commandFingerprint: meta.commandFingerprint,
        ...(meta.idempotencyKey ? { idempotencyKey: meta.idempotencyKey } : {}),
        events: input.events.map((e) => ({ id: randomUUID(), ...e })),
        prevHash: input.prevHash,
      };
      const { commit, bytes } = sealCommit(body);
      const h = natsHeaders();
      h.set('Lightdom-Correlation-Id', meta.correlationId);
      h.set('Lightdom-Commit-Id', commit.commitId);
      if (meta.traceparent) h.set('traceparent', meta.traceparent);
      const subject = aggregateSubject(opts.subjectPrefix, input.aggregateType, input.aggregateId);
      try {
        const ack = await js.publish(subject, bytes, {
          headers: h,
          timeout: opts.publishTimeoutMs,
          ...(meta.msgId ? { msgID: meta.msgId } : {}),
          expect: { lastSubjectSequence: input.expectedPosition, streamName: opts.stream },
        });
        if (ack.duplicate) {
          const original = await getCommit(ack.seq);
          if (!original) throw new LightdomError('INTERNAL', `duplicate ack for missing position ${ack.seq}`);
          return { commit: original, duplicate: true };
        }
        return { commit: { ...commit, position: ack.seq }, duplicate: false };
      } catch (err) {
        throw translateNatsError(err, 'append');
      }
    },

    async readAggregate(aggregateType, aggregateId, ro = {}) {
      if (!isSubjectToken(aggregateType) || !isSubjectToken(aggregateId)) return [];
      const after = ro.after ?? 0;
      const last = await lastCommit(aggregateType, aggregateId);
      if (!last || last.position <= after) return [];
      if (ro.until === undefined || last.position <= ro.until) {
        // The common catch-up case: only the newest commit is missing.
        if (last.previousPosition === after) return [last];
      }
      const subject = aggregateSubject(opts.subjectPrefix, aggregateType, aggregateId);
      const upTo = ro.until === undefined ? last.position : Math.min(ro.until, last.position);
      for (let attempt = 1; ; attempt++) {
        const commits = await readRange(subject, after + 1, Number.MAX_SAFE_INTEGER, ro.until);
        // Short of what the leader holds: the read consumer sits on a follower still catching up.
        if ((commits.at(-1)?.position ?? after) >= upTo) return commits;
        if (attempt >= 50) throw new LightdomError('UNAVAILABLE', 'read: the replica serving reads is behind');
        await sleep(20);
      }
    },

    lastCommit,

    async readAll(ro = {}) {
      const filter = typeSubject(opts.subjectPrefix, ro.aggregateType);
      return readRange(filter, (ro.after ?? 0) + 1, ro.limit ?? 100, ro.until);
    },

    getCommit,

    assertAvailable: assertConnected,

    async subscribe(so = {}) {
      for (const token of [so.aggregateType, so.aggregateId]) {
        if (token !== undefined && !isSubjectToken(token)) {
          throw new LightdomError('VALIDATION_FAILED', `Not an aggregate type or id: ${JSON.stringify(token)}`);
        }
      }
      assertConnected('subscribe');
      const after = so.after ?? (await this.headPosition());
      const filter =
        so.aggregateType && so.aggregateId
          ? aggregateSubject(opts.subjectPrefix, so.aggregateType, so.aggregateId)
          : so.aggregateType
            ? typeSubject(opts.subjectPrefix, so.aggregateType)
            : undefined;
      const consumer = await js.consumers.get(opts.stream, {
        opt_start_seq: after + 1,
        ...(filter ? { filterSubjects: filter } : {}),
      });
      const messages = await consumer.consume({ max_messages: 256 });
      const commits = (async function* () {
        for await (const m of messages) {
          try {
            yield upcastCommit(decodeCommit(m.data, m.seq));
          } catch {
            deps.logger?.warn({ position: m.seq }, 'skipping a message that is not a commit');
          }
        }
      })();
      let stopped = false;
      return {
        // nats.js keeps an ordered consumer five minutes after its last pull (and ignores an
        // inactive_threshold when a start sequence is given): delete it at once instead.
        stop: () => {
          if (stopped) return;
          stopped = true;
          messages.stop();
          consumer.delete().catch(() => undefined);
        },
        // One underlying iterator: leaving a for-await loop early does not end the
        // subscription, so a reader can take a few commits and come back for more.
        [Symbol.asyncIterator]: () => ({ next: () => commits.next() }),
      };
    },

    async headPosition() {
      assertConnected('read');
      try {
        const info = await (await jsm()).streams.info(opts.stream);
        return info.state.last_seq;
      } catch (err) {
        throw translateNatsError(err, 'read');
      }
    },
  };
}
