import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CommandEnvelope,
  type CommandMetadata,
  type CommandResult,
  canonicalJson,
  childTraceparent,
  commandCatalog,
  commandEnvelopeSchema,
  commandMetadataIssues,
  deciders,
  eventVersions,
  type FieldIssue,
  isLightdomError,
  LightdomError,
  parseTraceparent,
  type StoredCommit,
  sha256Hex,
  validationError,
} from '@lightdom/domain';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import type { EventStore } from '../store/eventStore.js';
import { SpanKind, startSpan } from '../tracing.js';
import { type AggregateRepository, createAggregateRepository, type LoadedAggregate } from './aggregateRepository.js';
import { type IdempotencyStore, idempotencyStorageKey } from './idempotency.js';
import { createKeyedQueue } from './keyedQueue.js';
import type { SnapshotStore } from './snapshots.js';

export interface CommandHandlerDeps {
  store: EventStore;
  idempotency?: IdempotencyStore;
  snapshots?: SnapshotStore;
  repository?: AggregateRepository;
  logger?: Logger;
  /** Source of time for decisions. Default `() => new Date()`. */
  clock?: () => Date;
}

export interface CommandHandlerOptions {
  /** Reload-and-decide attempts after a concurrency conflict. Default 8. */
  maxConflictRetries: number;
  /** Base of the jittered back-off between attempts, in ms. Default 5. */
  retryBaseDelayMs: number;
  /** Aggregates kept in the in-memory cache. Default 10,000. */
  cacheSize: number;
  /** Snapshot interval in events, when a snapshot store is given. Default 100. */
  snapshotEvery: number;
}

export interface CommandHandler {
  /** Validates, decides and appends one command; the same code path for every gateway. */
  handle(envelope: unknown, meta: CommandMetadata): Promise<CommandResult>;
  readonly repository: AggregateRepository;
}

const domainCodes = new Set(['INVALID_TRANSITION', 'INVARIANT_VIOLATION', 'ALREADY_EXISTS', 'VERSION_MISMATCH']);
const isDomainRejection = (err: unknown) => isLightdomError(err) && domainCodes.has(err.code);

export function zodIssues(err: ZodError, prefix: string): FieldIssue[] {
  return err.issues.map((i) => {
    const field = [prefix, ...i.path].filter((p) => p !== '').join('.');
    if (i.code === 'unrecognized_keys') {
      return { field: [field, i.keys[0]].filter(Boolean).join('.'), message: `unknown field(s): ${i.keys.join(', ')}` };
    }
    return { field: field || '(body)', message: i.message };
  });
}

/** Parses the envelope and its data; every problem names its field. */
export function parseCommand(envelope: unknown) {
  const env = commandEnvelopeSchema.safeParse(envelope);
  if (!env.success) throw validationError(zodIssues(env.error, ''));
  // Own properties only: `constructor` or `__proto__` must not find Object.prototype's members.
  const spec = Object.hasOwn(commandCatalog, env.data.type) ? commandCatalog[env.data.type] : undefined;
  if (!spec) {
    // The type is echoed bounded: a 500 KB type must not come back (and be logged) whole.
    const shown = env.data.type.length > 100 ? `${env.data.type.slice(0, 100)}…` : env.data.type;
    throw new LightdomError('UNKNOWN_COMMAND', `Unknown command type ${JSON.stringify(shown)}`, {
      issues: [{ field: 'type', message: `must be one of ${Object.keys(commandCatalog).join(', ')}` }],
    });
  }
  const data = spec.schema.safeParse(env.data.data);
  if (!data.success) throw validationError(zodIssues(data.error, 'data'));
  if (spec.kind === 'update' && !env.data.aggregateId) {
    throw validationError([{ field: 'aggregateId', message: 'is required for ' + env.data.type }]);
  }
  return { envelope: env.data, spec, data: data.data as unknown };
}

/**
 * Correlation and causation ids are stored in every commit: any edge may pass a client's
 * value, so an id that is too long or has other characters is replaced by a fresh one.
 */
export const traceIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
// A causation id may join a request id and a frame id (`<request>:<frame>`).
const causationIdPattern = /^[A-Za-z0-9._:-]{1,256}$/;

function withBoundedTraceIds(meta: CommandMetadata): CommandMetadata {
  if (traceIdPattern.test(meta.correlationId) && causationIdPattern.test(meta.causationId)) return meta;
  return {
    ...meta,
    correlationId: traceIdPattern.test(meta.correlationId) ? meta.correlationId : randomUUID(),
    causationId: causationIdPattern.test(meta.causationId) ? meta.causationId : randomUUID(),
  };
}

const fingerprintOf = (e: CommandEnvelope): string =>
  sha256Hex(
    canonicalJson({
      type: e.type,
      aggregateId: e.aggregateId ?? null,
      expectedVersion: e.expectedVersion ?? null,
      data: e.data,
    }),
  );

export function createCommandHandler(
  deps: CommandHandlerDeps,
  options: Partial<CommandHandlerOptions> = {},
): CommandHandler {
  const opts: CommandHandlerOptions = {
    maxConflictRetries: 8,
    retryBaseDelayMs: 5,
    cacheSize: 10_000,
    snapshotEvery: 100,
    ...options,
  };
  const clock = deps.clock ?? (() => new Date());
  const repository =
    deps.repository ??
    createAggregateRepository(
      {
        store: deps.store,
        deciders,
        ...(deps.snapshots ? { snapshots: deps.snapshots } : {}),
        ...(deps.logger ? { logger: deps.logger } : {}),
      },
      { cacheSize: opts.cacheSize, snapshotEvery: opts.snapshotEvery },
    );

  // Synchronous: deciding awaits nothing, and each await before the append is one more
  // microtask turn before the publish is queued (fewer commands share NATS's next write).
  function decideOn(
    loaded: LoadedAggregate,
    command: { type: string; data: unknown },
    expectedVersion: number | undefined,
    now: Date,
  ) {
    const decider = deciders[loaded.aggregateType];
    if (!decider) throw new LightdomError('INTERNAL', `no decider for ${loaded.aggregateType}`);
    if (expectedVersion !== undefined && expectedVersion !== loaded.version) {
      throw new LightdomError(
        'VERSION_MISMATCH',
        `Expected version ${expectedVersion} but the aggregate is at version ${loaded.version}`,
        { details: { expectedVersion, currentVersion: loaded.version } },
      );
    }
    return decider.decide(command, loaded.state, { now, aggregateId: loaded.aggregateId }) as {
      type: string;
      data: unknown;
    }[];
  }

  const queue = createKeyedQueue();

  const resultOf = (commit: StoredCommit, duplicate: boolean): CommandResult => ({
    id: commit.aggregateId,
    version: commit.version,
    position: commit.position,
    duplicate,
    commitId: commit.commitId,
    events: commit.events.map((e) => e.type),
  });

  /** The aggregate's newest commit made by this actor with this key; a rare path that reads the history. */
  async function findCommitByKey(aggregateType: string, aggregateId: string, key: string, actor: string) {
    const commits = await deps.store.readAggregate(aggregateType, aggregateId);
    return commits.reverse().find((c) => c.idempotencyKey === key && (c.via ?? c.actor) === actor) ?? null;
  }

  return {
    repository,
    async handle(raw, givenMeta) {
      const parsed = parseCommand(raw);
      const meta = withBoundedTraceIds(givenMeta);
      const metaIssues = commandMetadataIssues(meta);
      if (metaIssues.length > 0) throw validationError(metaIssues);
      const id = parsed.envelope.aggregateId;
      // New aggregates without an id cannot collide; everything else queues per aggregate.
      return id
        ? queue.run(`${parsed.spec.aggregateType}.${id}`, () => handleParsed(parsed, meta))
        : handleParsed(parsed, meta);
    },
  };

  /**
   * One span per command (decide + append), named after it. With tracing on, the commit
   * carries this span's traceparent, so what consumers do with the commit hangs below it.
   */
  async function handleParsed(parsed: ReturnType<typeof parseCommand>, meta: CommandMetadata): Promise<CommandResult> {
    const span = startSpan(`commit ${parsed.envelope.type}`, meta.traceparent, {
      kind: SpanKind.PRODUCER,
      whenOff: 'same',
      attributes: {
        'lightdom.command.type': parsed.envelope.type,
        'lightdom.aggregate.type': parsed.spec.aggregateType,
        'lightdom.actor': meta.actor,
      },
    });
    try {
      const result = await decideAndAppend(parsed, { ...meta, traceparent: span.traceparent });
      span.setAttributes({
        'lightdom.aggregate.id': result.id,
        'lightdom.position': result.position,
        'lightdom.version': result.version,
        'lightdom.duplicate': result.duplicate,
      });
      span.end();
      return result;
    } catch (err) {
      span.end(err);
      throw err;
    }
  }

  async function decideAndAppend(
    { envelope, spec, data }: ReturnType<typeof parseCommand>,
    meta: CommandMetadata,
  ): Promise<CommandResult> {
    const fingerprint = fingerprintOf(envelope);
    const aggregateId = envelope.aggregateId ?? randomUUID();
    // Keys are scoped to whoever chose them: a service acting for a requester keeps its own space.
    const keyScope = meta.via ?? meta.actor;
    const idemKey = envelope.idempotencyKey ? idempotencyStorageKey(keyScope, envelope.idempotencyKey) : undefined;

    const checkRemembered = (remembered: { fingerprint: string; result: CommandResult }) => {
      if (remembered.fingerprint !== fingerprint) {
        throw new LightdomError('IDEMPOTENCY_KEY_REUSED', undefined, {
          issues: [{ field: 'idempotencyKey', message: 'was already used for a different command' }],
        });
      }
      return { ...remembered.result, duplicate: true };
    };
    // Fail fast: KV lookups and reads would otherwise wait out their time-outs.
    deps.store.assertAvailable('command');
    if (idemKey && deps.idempotency) {
      const remembered = await deps.idempotency.get(idemKey).catch((err) => {
        deps.logger?.warn({ err }, 'idempotency lookup failed; relying on the JetStream window');
        return null;
      });
      if (remembered) return checkRemembered(remembered);
    }

    const command = { type: envelope.type, data };
    // Every commit belongs to a trace: continue the caller's, or start one.
    const traceparent = parseTraceparent(meta.traceparent) ? (meta.traceparent as string) : childTraceparent(null);
    for (let attempt = 0; ; attempt++) {
      const now = clock();
      let loaded = await repository.load(spec.aggregateType, aggregateId, {
        verify: attempt > 0,
        assumeNew: spec.kind === 'create',
      });
      let events: { type: string; data: unknown }[];
      try {
        try {
          events = decideOn(loaded, command, envelope.expectedVersion, now);
        } catch (err) {
          // A cached state may be stale: confirm a rejection against the log before reporting it.
          if (!isLightdomError(err) || loaded.verified) throw err;
          loaded = await repository.load(spec.aggregateType, aggregateId, { verify: true });
          events = decideOn(loaded, command, envelope.expectedVersion, now);
        }
      } catch (err) {
        // A retry whose first attempt landed but was not remembered (a crash between the
        // append and the KV write, after the duplicate window) is refused by the domain
        // now: the commit in the log is its answer.
        if (isDomainRejection(err) && envelope.idempotencyKey && envelope.aggregateId) {
          const earlier = await findCommitByKey(spec.aggregateType, aggregateId, envelope.idempotencyKey, keyScope);
          if (earlier)
            return checkRemembered({ fingerprint: earlier.commandFingerprint, result: resultOf(earlier, true) });
        }
        throw err;
      }
      if (events.length === 0 && !loaded.verified) {
        // "Nothing to do" on a cached state may be stale too: confirm it against the log.
        loaded = await repository.load(spec.aggregateType, aggregateId, { verify: true });
        events = decideOn(loaded, command, envelope.expectedVersion, now);
      }
      if (events.length === 0) {
        return {
          id: aggregateId,
          version: loaded.version,
          position: loaded.position,
          duplicate: false,
          commitId: '',
          events: [],
        };
      }
      try {
        const { commit, duplicate } = await deps.store.append({
          aggregateType: spec.aggregateType,
          aggregateId,
          expectedPosition: loaded.position,
          expectedVersion: loaded.version,
          prevHash: loaded.hash,
          events: events.map((e) => ({ type: e.type, schemaVersion: eventVersions[e.type] ?? 1, data: e.data })),
          metadata: {
            correlationId: meta.correlationId,
            causationId: meta.causationId,
            actor: meta.actor,
            ...(meta.via ? { via: meta.via } : {}),
            timestamp: now.toISOString(),
            commandType: envelope.type,
            commandFingerprint: fingerprint,
            ...(envelope.idempotencyKey ? { idempotencyKey: envelope.idempotencyKey, msgId: `idem-${idemKey}` } : {}),
            traceparent,
          },
        });
        const result = resultOf(commit, duplicate);
        if (duplicate) {
          repository.forget(commit.aggregateType, commit.aggregateId);
          return checkRemembered({ fingerprint: commit.commandFingerprint, result });
        }
        repository.remember(loaded, commit);
        if (idemKey && deps.idempotency) {
          await deps.idempotency.put(idemKey, { fingerprint, result }).catch((err) => {
            deps.logger?.warn({ err }, 'could not remember the idempotency key');
          });
        }
        return result;
      } catch (err) {
        if (!isLightdomError(err, 'CONCURRENCY_CONFLICT')) throw err;
        repository.forget(spec.aggregateType, aggregateId);
        if (attempt >= opts.maxConflictRetries) {
          const current = await repository.load(spec.aggregateType, aggregateId, { verify: true });
          throw new LightdomError(
            'CONCURRENCY_CONFLICT',
            `Gave up after ${attempt + 1} attempts; the aggregate is at version ${current.version}`,
            { details: { currentVersion: current.version, attempts: attempt + 1 } },
          );
        }
        await sleep(Math.random() * opts.retryBaseDelayMs * 2 ** Math.min(attempt, 6));
      }
    }
  }
}
