import { setTimeout as sleep } from 'node:timers/promises';
import type { EventStore } from '@lightdom/eventstore';
import type { JetStreamManager } from 'nats';
import type { FaultContext } from '../lib/context.js';
import { say } from '../lib/log.js';

export interface WorkerBacklog {
  /** The worker services whose consumers were looked at. */
  services: string[];
  /** One line per consumer that still holds commits. */
  backlog: string[];
}

/**
 * After the load the executor and the AI worker still work (and append commits of their
 * own). The checks need a still picture: wait until their consumers are drained and the
 * log has stopped growing, then read the head.
 */
export async function quiesce(
  ctx: FaultContext,
  jsm: JetStreamManager,
  store: EventStore,
): Promise<{ workers: WorkerBacklog; head: number }> {
  const started = Date.now();
  const workers = await drainWorkers(ctx, jsm);
  let head = await store.headPosition();
  for (let stableSince = Date.now(); Date.now() - stableSince < 2000 && Date.now() - started < 120_000; ) {
    await sleep(250);
    const now = await store.headPosition();
    if (now !== head) {
      head = now;
      stableSince = Date.now();
    }
  }
  say(`the log stopped growing at position ${head} (${((Date.now() - started) / 1000).toFixed(1)} s after the load)`);
  return { workers, head };
}

async function drainWorkers(ctx: FaultContext, jsm: JetStreamManager): Promise<WorkerBacklog> {
  const durables = [
    { service: 'executor', durable: ctx.stack.names.executorDurable },
    { service: 'ai-worker', durable: ctx.stack.names.aiWorkerDurable },
  ].filter((d) => ctx.stack.services.some((s) => s.name === d.service));
  const backlog: string[] = [];
  for (const d of durables) {
    const info = await drained(jsm, ctx.stack.names.stream, d.durable, ctx.measurements.lastDisruptionAt);
    if (!info) backlog.push(`${d.service}: no consumer ${d.durable}`);
    else if (info.num_pending + info.num_ack_pending > 0) {
      backlog.push(
        `${d.service}: ${info.num_pending} commits never delivered, ${info.num_ack_pending} delivered but not acknowledged (ack floor ${info.ack_floor.stream_seq}, delivered up to ${info.delivered.stream_seq}, ${info.num_redelivered} redelivered)`,
      );
    }
  }
  return { services: durables.map((d) => d.service), backlog };
}

/**
 * Waits for a durable consumer to have nothing pending. Commits a killed worker held are
 * redelivered only when their ack wait runs out, so the wait covers one ack wait after the
 * last disruption.
 */
async function drained(jsm: JetStreamManager, stream: string, durable: string, lastDisruptionAt: number) {
  let info = await jsm.consumers.info(stream, durable).catch(() => undefined);
  const ackWaitMs = (info?.config.ack_wait ?? 0) / 1_000_000;
  const deadline = Math.max(Date.now() + 20_000, lastDisruptionAt + ackWaitMs + 10_000);
  while (info && info.num_pending + info.num_ack_pending > 0 && Date.now() < deadline) {
    await sleep(500);
    info = await jsm.consumers.info(stream, durable).catch(() => info);
  }
  return info;
}
