import { LightdomError } from '@lightdom/domain';
import { DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from 'nats';
import { typeSubject } from './subjects.js';

export interface EventStreamOptions {
  /** Stream name. Default `EVENTS`. */
  stream: string;
  /** First subject token. Default `events`. */
  subjectPrefix: string;
  /** JetStream duplicate window in milliseconds. Default 2 minutes. */
  duplicateWindowMs: number;
  /** Replicas: 1 in development; 3 in production (nats-server >= 2.10). */
  replicas: number;
}

export const defaultStreamOptions: EventStreamOptions = {
  stream: 'EVENTS',
  subjectPrefix: 'events',
  duplicateWindowMs: 120_000,
  replicas: 1,
};

export function eventStreamConfig(opts: EventStreamOptions): Partial<StreamConfig> {
  return {
    name: opts.stream,
    subjects: [typeSubject(opts.subjectPrefix)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: 0,
    max_bytes: -1,
    max_msgs: -1,
    max_msgs_per_subject: -1,
    deny_delete: true,
    deny_purge: true,
    allow_direct: true,
    num_replicas: opts.replicas,
    duplicate_window: opts.duplicateWindowMs * 1_000_000,
  };
}

/**
 * Creates the event stream, or checks that an existing one keeps history forever.
 * Refuses to run against a stream that could lose or delete events.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  opts: EventStreamOptions,
  /** Only the service that owns the setting (command-api) changes the duplicate window. */
  { setDuplicateWindow = false }: { setDuplicateWindow?: boolean } = {},
) {
  const wanted = eventStreamConfig(opts);
  try {
    const info = await jsm.streams.info(opts.stream);
    const c = info.config;
    const problems: string[] = [];
    if (!c.deny_delete) problems.push('deny_delete is off');
    if (!c.deny_purge) problems.push('deny_purge is off');
    if (c.max_age !== 0) problems.push('max_age is set');
    if (c.max_bytes !== -1 || c.max_msgs !== -1) problems.push('a size limit is set');
    if (c.retention !== RetentionPolicy.Limits) problems.push(`retention is ${c.retention}, not limits`);
    if ((c.max_msgs_per_subject ?? -1) > 0) problems.push('a per-subject limit is set');
    if (c.subjects.length !== 1 || c.subjects[0] !== wanted.subjects?.[0]) problems.push('subjects differ');
    if (problems.length > 0) {
      throw new LightdomError('INTEGRITY_VIOLATION', `Stream ${opts.stream} exists but ${problems.join(', ')}`);
    }
    const windowDiffers = setDuplicateWindow && c.duplicate_window !== wanted.duplicate_window;
    if (windowDiffers || !c.allow_direct) {
      await jsm.streams.update(opts.stream, {
        ...c,
        duplicate_window: windowDiffers ? (wanted.duplicate_window ?? c.duplicate_window) : c.duplicate_window,
        allow_direct: true,
      });
    }
    return info;
  } catch (err) {
    if ((err as { code?: string }).code === '404' || /stream not found/i.test(String(err))) {
      return jsm.streams.add(wanted);
    }
    throw err;
  }
}

/**
 * How many replicas the event stream has (1 when it does not exist yet). The KV buckets
 * the services keep beside the log (idempotency, snapshots) take the same number, so on a
 * cluster losing one node loses neither the log nor what commands need to be answered.
 */
export async function eventStreamReplicas(jsm: JetStreamManager, stream: string): Promise<number> {
  try {
    return (await jsm.streams.info(stream)).config.num_replicas ?? 1;
  } catch (err) {
    if ((err as { code?: string }).code === '404' || /stream not found/i.test(String(err))) return 1;
    throw err;
  }
}
