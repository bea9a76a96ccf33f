import type { JetStreamClient, KV } from 'nats';

/** A folded aggregate saved so that loading it does not replay its whole history. */
export interface Snapshot {
  state: unknown;
  version: number;
  position: number;
  hash: string | null;
  /** Shape of `state`; a snapshot of another shape is ignored and rebuilt. */
  stateVersion: number;
}

export interface SnapshotStore {
  get(aggregateType: string, aggregateId: string): Promise<Snapshot | null>;
  put(aggregateType: string, aggregateId: string, snapshot: Snapshot): Promise<void>;
}

export interface KvSnapshotOptions {
  /** KV bucket name. Default `LIGHTDOM_SNAPSHOTS`. */
  bucket: string;
  /** Replicas of the bucket when it is created (an existing bucket keeps its own). Default 1; pass `eventStreamReplicas`. */
  replicas?: number;
}

/**
 * Snapshots in a NATS KV bucket, one key per aggregate (latest only). They are a cache:
 * losing the bucket costs speed, never correctness, because the log is read after them.
 */
/** `js`'s own time-out bounds every KV operation: pass `nc.jetstream({ timeout })`. */
export async function createKvSnapshotStore(
  js: JetStreamClient,
  options: Partial<KvSnapshotOptions> = {},
): Promise<SnapshotStore> {
  const opts = { bucket: 'LIGHTDOM_SNAPSHOTS', ...options };
  const kv: KV = await js.views.kv(opts.bucket, { history: 1, replicas: opts.replicas ?? 1 });
  const key = (t: string, id: string) => `${t}.${id}`;
  return {
    async get(t, id) {
      const entry = await kv.get(key(t, id));
      if (entry?.operation !== 'PUT' || entry.length === 0) return null;
      return entry.json<Snapshot>();
    },
    async put(t, id, snapshot) {
      await kv.put(key(t, id), JSON.stringify(snapshot));
    },
  };
}
