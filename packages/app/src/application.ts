import {
  type CommandMetadata,
  type CommandResult,
  type Identity,
  LightdomError,
  type RecordedEvent,
  toRecordedEvents,
  type WorkflowRunState,
} from '@lightdom/domain';
import { type CommandHandler, type EventStore, inSpan, SpanKind } from '@lightdom/eventstore';
import type { TokenRegistry } from '@lightdom/runtime';
import { type Action, authorize } from './access.js';
import { checkRunOrigin, childParent, parseRunRequest, runRequestData } from './runs.js';
import { creatorOf, scheduleCreateData } from './schedules.js';

/** What a caller presents: a bearer token (HTTP, WebSocket, gRPC metadata) or an AMQP password. */
export interface Credentials {
  token?: string | undefined;
}

/** Where a call comes from, for the commit's metadata and the logs. */
export interface RequestContext {
  correlationId: string;
  /** The id of what caused the call: a request id, a frame id, a delivery tag. */
  causationId: string;
  traceparent?: string | undefined;
  /** The protocol the call arrived on (`http`, `websocket`, `grpc`, `amqp`), naming its span. */
  edge?: string | undefined;
}

export interface SubmitOptions {
  /**
   * A service issuing a command for a step of this run: the command is authorised against
   * the identity that requested the run, and its commit records that actor as `actor` and
   * the service as `via`.
   */
  onBehalfOfRun?: string;
  /**
   * A service starting a run for a schedule (the executor's scheduler): authorised against
   * the schedule's creator, recorded with that actor as `actor` and the service as `via`.
   */
  onBehalfOfSchedule?: string;
}

/** Read-your-writes: how fresh a read must be. */
export interface Consistency {
  /** Wait until the read models have applied this position. */
  minPosition?: number | undefined;
  /** Longest wait, in ms (capped by the application's own limit). */
  waitMs?: number | undefined;
  /** On time-out, answer with what there is (`stale: true`) instead of STALE_READ. */
  allowStale?: boolean | undefined;
}

export interface ReadResult<T> {
  value: T;
  /** The read models' position when the read ran. */
  position: number;
  stale: boolean;
}

/** How far the read models are: the projector's checkpoints, woken by its notifications. */
export interface PositionSource {
  current(): Promise<number>;
  lastKnown(): number;
  waitFor(position: number, timeoutMs: number): Promise<boolean>;
}

/** Live subscriptions with gap-free resume (the process's feed hub). */
export interface Subscriptions<F, S, Sub> {
  subscribe(filter?: F, start?: S): Promise<Sub>;
}

export interface EventsQuery {
  after: number;
  limit: number;
  aggregateType?: string | undefined;
  aggregateId?: string | undefined;
  type?: string | undefined;
}

export interface EventsPage {
  events: RecordedEvent[];
  /** Continue from here (paging is by commit, so a type filter may leave a page short). */
  nextAfter: number;
  hasMore: boolean;
}

export interface ApplicationDeps<F = unknown, S = unknown, Sub = unknown> {
  commands: CommandHandler;
  store: EventStore;
  tokens: TokenRegistry;
  /** Absent in processes without read models (the executor, the AI worker). */
  positions?: PositionSource;
  /** Absent in processes that do not serve subscriptions. */
  feed?: Subscriptions<F, S, Sub>;
  /** Longest `minPosition` wait, in ms. Default 5000. */
  maxWaitMs?: number;
}

/**
 * The application core. Every edge (HTTP routes, WebSocket frames, gRPC methods, AMQP
 * methods) and every service that records commands is a translation between its wire
 * format and these calls; authentication, roles, the run rules and read-your-writes live
 * here once.
 */
export interface Application<F = unknown, S = unknown, Sub = unknown> {
  /** UNAUTHORIZED for a missing or unknown token; with `AUTH=off`, the anonymous admin. */
  authenticate(credentials: Credentials): Identity;
  /** FORBIDDEN unless `identity` may do `action`. */
  authorize(identity: Identity, action: Action): void;
  /** Authorises, applies the run rules, and hands the command to the command handler. */
  submit(
    identity: Identity,
    command: unknown,
    context: RequestContext,
    options?: SubmitOptions,
  ): Promise<CommandResult>;
  /** Runs `query` once the read models reached `minPosition` (bounded wait). */
  read<T>(identity: Identity, consistency: Consistency, query: () => Promise<T>): Promise<ReadResult<T>>;
  /** The log in position order, from the log itself (the audit trail, never a read model). */
  events(identity: Identity, query: EventsQuery): Promise<EventsPage>;
  /** Live events after a position, history first; resumes with no gap and no duplicate. */
  subscribe(identity: Identity, filter?: F, start?: S): Promise<Sub>;
  readonly deps: ApplicationDeps<F, S, Sub>;
}

const tokenRequired = () => new LightdomError('UNAUTHORIZED', 'A valid bearer token is required');

export function createApplication<F, S, Sub>(deps: ApplicationDeps<F, S, Sub>): Application<F, S, Sub> {
  const maxWaitMs = deps.maxWaitMs ?? 5000;

  /** Who a step of `runId` acts as: the run's requester (runs recorded before roles: an operator). */
  async function requesterOf(runId: string): Promise<Identity> {
    const loaded = await deps.commands.repository.load('workflowRun', runId);
    const run = loaded.state as WorkflowRunState;
    if (!run.exists) throw new LightdomError('NOT_FOUND', `No workflow run ${runId}`);
    if (run.requestedBy) return run.requestedBy;
    const first = (await deps.store.readAggregate('workflowRun', runId, { until: loaded.position }))[0];
    return { actor: first?.actor ?? 'unknown', role: 'operator' };
  }

  async function submitTraced(
    identity: Identity,
    command: unknown,
    context: RequestContext,
    options: SubmitOptions,
  ): Promise<CommandResult> {
    const envelope = command !== null && typeof command === 'object' ? (command as Record<string, unknown>) : {};
    const type = typeof envelope.type === 'string' ? envelope.type : '';
    let actingAs = identity;
    let via: string | undefined;
    const onBehalf = options.onBehalfOfRun ?? options.onBehalfOfSchedule;
    if (onBehalf !== undefined) {
      const what = options.onBehalfOfRun !== undefined ? 'a run' : 'a schedule';
      if (identity.role !== 'service' && identity.role !== 'admin') {
        throw new LightdomError('FORBIDDEN', `${identity.actor} (role ${identity.role}) may not act for ${what}`, {
          details: { role: identity.role, allowedRoles: ['service', 'admin'] },
        });
      }
      actingAs =
        options.onBehalfOfRun !== undefined
          ? await requesterOf(options.onBehalfOfRun)
          : await creatorOf(deps, options.onBehalfOfSchedule as string);
      via = identity.actor;
    }
    authorize(actingAs, { kind: 'command', type });
    let full: unknown = command;
    if (type === 'RequestWorkflowRun') {
      const request = parseRunRequest(envelope.data);
      checkRunOrigin(request, { forRun: options.onBehalfOfRun, forSchedule: options.onBehalfOfSchedule });
      if (request.parent) request.parent = await childParent(deps, request.parent);
      full = { ...envelope, data: await runRequestData(deps, request, actingAs) };
    } else if (type === 'CreateSchedule') {
      full = { ...envelope, data: await scheduleCreateData(deps, envelope.data, actingAs) };
    }
    const meta: CommandMetadata = {
      actor: actingAs.actor,
      ...(via ? { via } : {}),
      correlationId: context.correlationId,
      causationId: context.causationId,
      ...(context.traceparent ? { traceparent: context.traceparent } : {}),
    };
    return deps.commands.handle(full, meta);
  }

  return {
    deps,
    authenticate(credentials) {
      const identity = deps.tokens.lookup(credentials.token);
      if (!identity) throw tokenRequired();
      return identity;
    },

    authorize,

    async submit(identity, command, context, options = {}) {
      const type = (command as { type?: unknown } | null)?.type;
      const name = typeof type === 'string' ? type : 'command';
      // The command as the core handles it (authorise, enrich, commit): one span per call from an edge.
      return inSpan(
        `${context.edge ?? 'submit'} ${name}`,
        context.traceparent,
        {
          kind: context.edge ? SpanKind.SERVER : SpanKind.INTERNAL,
          whenOff: 'same',
          attributes: {
            'lightdom.command.type': name,
            'lightdom.actor': identity.actor,
            'lightdom.edge': context.edge ?? 'internal',
          },
        },
        (span) => submitTraced(identity, command, { ...context, traceparent: span.traceparent }, options),
      );
    },

    async read(identity, consistency, query) {
      authorize(identity, { kind: 'read' });
      const positions = deps.positions;
      if (!positions) throw new LightdomError('UNAVAILABLE', 'This process serves no read models');
      if (consistency.minPosition === undefined) {
        const position = await positions.current();
        return { value: await query(), position, stale: false };
      }
      const wait = Math.min(consistency.waitMs ?? maxWaitMs, maxWaitMs);
      const reached = await positions.waitFor(consistency.minPosition, wait);
      const position = positions.lastKnown();
      if (!reached && !consistency.allowStale) {
        throw new LightdomError(
          'STALE_READ',
          `The read model is at position ${position}, not yet ${consistency.minPosition}`,
          { details: { position, minPosition: consistency.minPosition } },
        );
      }
      return { value: await query(), position, stale: !reached };
    },

    async events(identity, q) {
      authorize(identity, { kind: 'read' });
      if (q.aggregateId !== undefined && q.aggregateType === undefined) {
        throw new LightdomError('VALIDATION_FAILED', 'aggregateId needs aggregateType', {
          issues: [{ field: 'aggregateType', message: 'is required with aggregateId' }],
        });
      }
      const commits =
        q.aggregateId !== undefined
          ? (await deps.store.readAggregate(q.aggregateType as string, q.aggregateId, { after: q.after })).slice(
              0,
              q.limit,
            )
          : await deps.store.readAll({
              after: q.after,
              limit: q.limit,
              ...(q.aggregateType ? { aggregateType: q.aggregateType } : {}),
            });
      const events = commits.flatMap(toRecordedEvents).filter((e) => !q.type || e.type === q.type);
      const last = commits.at(-1);
      return { events, nextAfter: last ? last.position : q.after, hasMore: commits.length === q.limit };
    },

    async subscribe(identity, filter, start) {
      authorize(identity, { kind: 'subscribe' });
      if (!deps.feed) throw new LightdomError('UNAVAILABLE', 'This process serves no subscriptions');
      return deps.feed.subscribe(filter, start);
    },
  };
}
