import { setTimeout as sleep } from 'node:timers/promises';
import { checkpoint, type FaultContext } from '../lib/context.js';
import { inject, observe, seconds, summarize } from '../lib/log.js';
import { probeRead } from '../lib/probe.js';

/**
 * Restart PostgreSQL (fast shutdown: every connection is cut). Commands do not need it and
 * go on; reads and the projector must come back by themselves once it answers again.
 */
export async function postgresRestart(ctx: FaultContext): Promise<void> {
  const downForMs = ctx.quick ? 1500 : 3000;
  inject(`restart PostgreSQL (SIGINT, fast shutdown; down for ${seconds(downForMs)})`);
  await ctx.stack.postgres.stop();
  const stoppedAt = Date.now();
  while (Date.now() - stoppedAt < downForMs) {
    const a = await probeRead(ctx);
    ctx.measurements.readsWhilePostgresDown.push(a.status);
    await sleep(300);
  }
  await ctx.stack.postgres.start();
  const upAt = Date.now();
  const reads = ctx.measurements.readsWhilePostgresDown;
  observe(`reads while PostgreSQL was down answered ${summarize(reads)}`);
  if (reads.some((s) => s === 500))
    observe('NOTE: a 500 is no retryable answer; an outage should read 503 UNAVAILABLE');
  const before = await checkpoint(ctx);
  inject(`PostgreSQL accepts connections again (checkpoint ${before})`);
  const deadline = upAt + 60_000;
  while (Date.now() < deadline && ctx.measurements.readRecoveryMs === undefined) {
    if ((await probeRead(ctx)).status === 200) ctx.measurements.readRecoveryMs = Date.now() - upAt;
    else await sleep(100);
  }
  while (Date.now() < deadline && ctx.measurements.projectorResumeMs === undefined) {
    if ((await checkpoint(ctx)) > before) ctx.measurements.projectorResumeMs = Date.now() - upAt;
    else await sleep(100);
  }
  const { readRecoveryMs: r, projectorResumeMs: p } = ctx.measurements;
  observe(`reads answer 200 again after ${r === undefined ? 'never (60 s)' : seconds(r)}`);
  observe(`projector checkpoint moves again after ${p === undefined ? 'never (60 s)' : seconds(p)}`);
}
