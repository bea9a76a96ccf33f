import type { StoredCommit } from '@lightdom/domain';
import { type EventStore, hashCommit } from '@lightdom/eventstore';
import { type AnchorClient, AnchorRefused } from './chain.js';
import { merkleRoot } from './merkle.js';

/** One checkpoint as the log records it (aggregate `auditCheckpoint`, id `cp-<fromPosition>`). */
export interface RecordedCheckpoint {
  id: string;
  fromPosition: number;
  toPosition: number;
  merkleRoot: string;
  commitCount: number;
  /** Position of the commit that recorded it. */
  recordedAt: number;
  anchored: { chainId: number; transactionHash: string; blockNumber: number } | null;
}

export interface CheckpointerOptions {
  /** Read WITHOUT upcast: the tree covers commits as stored. */
  store: EventStore;
  /** Records a command through the application core (as the service identity). */
  submit(command: { type: string; aggregateId: string; data: unknown }): Promise<unknown>;
  chain: AnchorClient;
  /** Checkpoint once this many commits (other than checkpoint commits) wait. */
  every: number;
  /** …or once this long passed with at least one waiting. */
  intervalMs: number;
  /** Most positions in one checkpoint. Default 10000. */
  maxRange?: number;
  now?: () => number;
  log?: (fields: Record<string, unknown>, message: string) => void;
}

export const checkpointId = (fromPosition: number) => `cp-${fromPosition}`;

/** Reads every checkpoint the log records, in position order. */
export async function readRecordedCheckpoints(store: EventStore): Promise<RecordedCheckpoint[]> {
  const byId = new Map<string, RecordedCheckpoint>();
  for (let after = 0; ; ) {
    const page = await store.readAll({ after, limit: 500, aggregateType: 'auditCheckpoint' });
    for (const c of page) {
      for (const e of c.events) {
        const d = e.data as Record<string, number | string | null>;
        if (e.type === 'AuditCheckpointAnchored') {
          byId.set(c.aggregateId, {
            id: c.aggregateId,
            fromPosition: Number(d.fromPosition),
            toPosition: Number(d.toPosition),
            merkleRoot: String(d.merkleRoot),
            commitCount: Number(d.commitCount),
            recordedAt: c.position,
            anchored: null,
          });
        } else if (e.type === 'AuditCheckpointConfirmed') {
          const cp = byId.get(c.aggregateId);
          if (cp) {
            cp.anchored = {
              chainId: Number(d.chainId),
              transactionHash: String(d.transactionHash),
              blockNumber: Number(d.blockNumber),
            };
          }
        }
      }
    }
    const last = page.at(-1);
    if (!last || page.length < 500) break;
    after = last.position;
  }
  return [...byId.values()].sort((a, b) => a.fromPosition - b.fromPosition);
}

/** The commits of positions from..to, checked gapless and with intact hashes. */
export async function readRange(store: EventStore, from: number, to: number): Promise<StoredCommit[]> {
  const out: StoredCommit[] = [];
  for (let after = from - 1; after < to; ) {
    const page = await store.readAll({ after, limit: 1000, until: to });
    if (page.length === 0) break;
    out.push(...page);
    after = page.at(-1)!.position;
  }
  out.forEach((c, i) => {
    if (c.position !== from + i) throw new Error(`position ${from + i} is missing from the log`);
    if (hashCommit(c) !== c.hash) throw new Error(`the commit at position ${c.position} does not match its hash`);
  });
  if (out.length !== to - from + 1) throw new Error(`positions ${from}..${to} are not all in the log`);
  return out;
}

const isRefused = (err: unknown) => err instanceof AnchorRefused;

/**
 * The checkpoint job. Each `tick()`:
 * 1. anchors, in order, every recorded checkpoint not yet anchored (the contract is asked
 *    first, so a range whose earlier transaction landed is recorded, not sent again);
 *    a chain that does not answer ends this step, to be tried at the next tick;
 * 2. records the next checkpoint when enough commits wait (it needs only the log, so
 *    checkpoints keep being recorded while the chain is down, and are anchored later).
 * Commands never wait for any of it: the job is a reader and writer of the log like any
 * other service.
 */
export function createCheckpointer(opts: CheckpointerOptions) {
  const now = opts.now ?? Date.now;
  const maxRange = opts.maxRange ?? 10_000;
  const log = opts.log ?? (() => {});
  let lastCheckpointAt = now();
  let chainOk = true;

  async function anchorPending(checkpoints: RecordedCheckpoint[]): Promise<number> {
    let anchored = 0;
    for (const cp of checkpoints) {
      if (cp.anchored) continue;
      let result: Awaited<ReturnType<AnchorClient['anchorRange']>>;
      try {
        result = await opts.chain.anchorRange(cp);
      } catch (err) {
        if (isRefused(err))
          log({ checkpoint: cp.id, err: (err as Error).message }, 'the contract refuses this checkpoint');
        else if (chainOk) log({ checkpoint: cp.id, err: (err as Error).message }, 'chain unavailable; anchoring waits');
        chainOk = false;
        return anchored;
      }
      chainOk = true;
      await opts.submit({
        type: 'RecordCheckpointTransaction',
        aggregateId: cp.id,
        data: { chainId: result.chainId, transactionHash: result.transactionHash, blockNumber: result.blockNumber },
      });
      cp.anchored = result;
      anchored++;
      log(
        {
          checkpoint: cp.id,
          from: cp.fromPosition,
          to: cp.toPosition,
          tx: result.transactionHash,
          already: result.already,
        },
        'checkpoint anchored',
      );
    }
    return anchored;
  }

  /**
   * Checkpoints the log records as anchored but the contract does not hold: the contract is
   * a new one (a local `hardhat node` that was restarted forgets every block, and npm start
   * deploys again from position 1). They are anchored again, in order, so the contract holds
   * the log's whole history once more; the log keeps its first chain reference (a checkpoint
   * is confirmed once). Answers how many were sent; a chain that does not answer sends none.
   */
  async function restoreLost(checkpoints: RecordedCheckpoint[]): Promise<{ sent: number; ok: boolean }> {
    const confirmed = checkpoints.filter((c) => c.anchored);
    const last = confirmed.at(-1);
    if (!last) return { sent: 0, ok: true };
    let next: number;
    try {
      next = await opts.chain.nextPosition();
    } catch (err) {
      if (chainOk) log({ err: (err as Error).message }, 'chain unavailable; anchoring waits');
      chainOk = false;
      return { sent: 0, ok: false };
    }
    chainOk = true;
    if (next > last.toPosition) return { sent: 0, ok: true };
    let sent = 0;
    for (const cp of confirmed) {
      if (cp.toPosition < next) continue;
      try {
        const result = await opts.chain.anchorRange(cp);
        if (!result.already) sent++;
      } catch (err) {
        if (isRefused(err))
          log({ checkpoint: cp.id, err: (err as Error).message }, 'the contract refuses this checkpoint');
        else log({ checkpoint: cp.id, err: (err as Error).message }, 'chain unavailable; anchoring waits');
        chainOk = false;
        return { sent, ok: false };
      }
    }
    if (sent > 0)
      log(
        { checkpoints: sent, contract: opts.chain.contractAddress, from: next },
        'the contract did not hold checkpoints the log records as anchored (a new chain?); anchored them again',
      );
    return { sent, ok: true };
  }

  async function recordNext(checkpoints: RecordedCheckpoint[]): Promise<RecordedCheckpoint | null> {
    const last = checkpoints.at(-1);
    const from = last ? last.toPosition + 1 : 1;
    const head = await opts.store.headPosition();
    if (head < from) return null;
    const to = Math.min(head, from + maxRange - 1);
    const commits = await readRange(opts.store, from, to);
    const waiting = commits.filter((c) => c.aggregateType !== 'auditCheckpoint').length;
    const due = waiting >= opts.every || (waiting > 0 && now() - lastCheckpointAt >= opts.intervalMs);
    if (!due) return null;
    const root = merkleRoot(commits.map((c) => c.hash));
    const id = checkpointId(from);
    try {
      await opts.submit({
        type: 'AnchorAuditCheckpoint',
        aggregateId: id,
        data: { fromPosition: from, toPosition: to, merkleRoot: root, commitCount: commits.length },
      });
    } catch (err) {
      // Another instance recorded this range first: its record stands, ours is dropped.
      if ((err as { code?: string }).code === 'ALREADY_EXISTS') return null;
      throw err;
    }
    lastCheckpointAt = now();
    log({ checkpoint: id, from, to, root }, 'checkpoint recorded');
    return {
      id,
      fromPosition: from,
      toPosition: to,
      merkleRoot: root,
      commitCount: commits.length,
      recordedAt: 0,
      anchored: null,
    };
  }

  return {
    get chainAvailable() {
      return chainOk;
    },
    async tick(): Promise<{ recorded: number; anchored: number; pending: number; restored: number }> {
      const checkpoints = await readRecordedCheckpoints(opts.store);
      const { sent: restored, ok } = await restoreLost(checkpoints);
      let anchored = ok ? await anchorPending(checkpoints) : 0;
      const next = await recordNext(checkpoints);
      if (next && chainOk) anchored += await anchorPending([next]);
      const pending = checkpoints.filter((c) => !c.anchored).length + (next && !next.anchored ? 1 : 0);
      return { recorded: next ? 1 : 0, anchored, pending, restored };
    },
  };
}

export type Checkpointer = ReturnType<typeof createCheckpointer>;

/**
 * For the executor's `chain.anchor` step: waits (polling the log, bounded by `timeoutMs`)
 * until a recorded checkpoint covering `position` is anchored, and answers it; undefined
 * on time-out. Needs no key and sends nothing: the anchor service does the anchoring.
 */
export async function waitUntilAnchored(
  store: EventStore,
  position: number,
  opts: { timeoutMs: number; pollMs?: number },
): Promise<RecordedCheckpoint | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const found = (await readRecordedCheckpoints(store)).find(
      (c) => c.fromPosition <= position && position <= c.toPosition && c.anchored,
    );
    if (found || Date.now() >= deadline) return found;
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 500, Math.max(1, deadline - Date.now()))));
  }
}
