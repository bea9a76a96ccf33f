import type { CommandResult } from '@lightdom/domain';
import { sha256Hex } from '@lightdom/domain';
import type { JetStreamClient, KV } from 'nats';

export interface RememberedResult {
  fingerprint: string;
  result: CommandResult;
}

/** Remembers what an idempotency key produced, beyond JetStream's duplicate window. */
export interface IdempotencyStore {
  get(key: string): Promise<RememberedResult | null>;
  put(key: string, value: RememberedResult): Promise<void>;
}

export interface KvIdempotencyOptions {
  /** KV bucket name. Default `LIGHTDOM_IDEMPOTENCY`. */
  bucket: string;
  /** How long a key is remembered, in ms. Default 24 h. */
  ttlMs: number;
  /** Replicas of the bucket when it is created (an existing bucket keeps its own). Default 1; pass `eventStreamReplicas`. */
  replicas?: number;
}

/** KV keys allow a narrow alphabet, so client keys are stored by their hash. */
export const idempotencyStorageKey = (actor: string, key: string): string => sha256Hex(`${actor}\u0000${key}`);

/** `js`'s own time-out bounds every KV operation: pass `nc.jetstream({ timeout })`. */
export async function createKvIdempotencyStore(
  js: JetStreamClient,
  options: Partial<KvIdempotencyOptions> = {},
): Promise<IdempotencyStore> {
  const opts = { bucket: 'LIGHTDOM_IDEMPOTENCY', ttlMs: 24 * 3600_000, ...options };
  const kv: KV = await js.views.kv(opts.bucket, { ttl: opts.ttlMs, history: 1, replicas: opts.replicas ?? 1 });
  return {
    async get(key) {
      const entry = await kv.get(key);
      if (entry?.operation !== 'PUT' || entry.length === 0) return null;
      return entry.json<RememberedResult>();
    },
    async put(key, value) {
      await kv.put(key, JSON.stringify(value));
    },
  };
}
