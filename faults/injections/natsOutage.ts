import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultContext } from '../lib/context.js';
import type { HttpAnswer } from '../lib/http.js';
import { inject, observe, seconds, summarize } from '../lib/log.js';
import { probeCommand } from '../lib/probe.js';

/**
 * kill -9 nats-server (its store survives on disk, as on a node that restarts). While it is
 * down, commands must fail fast with 503; once it is back, the API must accept commands
 * again by itself within seconds, and no service may need a restart.
 */
export async function natsOutage(ctx: FaultContext): Promise<void> {
  const downForMs = ctx.quick ? 3000 : 5000;
  inject(`kill -9 nats-server (port ${ctx.stack.nats.port}), down for ${seconds(downForMs)}`);
  await ctx.stack.nats.kill();
  const killedAt = Date.now();
  // The API learns of the outage when its connection drops, a few ms after the kill; a
  // command already inside NATS at that instant waits for its own timeout. Probing starts
  // once the outage is a fact, on a campaign nobody else writes to.
  await sleep(250);
  // Probes go out on a fixed beat and are not awaited one by one, so a slow answer is
  // measured in full instead of stretching the outage.
  const probes: Promise<HttpAnswer>[] = [];
  while (Date.now() - killedAt < downForMs) {
    probes.push(probeCommand(ctx, 'outage', 10_000));
    await sleep(500);
  }
  inject('start nats-server again (same port, same store)');
  await ctx.stack.nats.start();
  const upAt = Date.now();
  for (;;) {
    const a = await probeCommand(ctx, 'recovery', 10_000);
    if (a.status >= 200 && a.status < 300) break;
    if (Date.now() - upAt > 60_000) {
      observe('the API did not accept a command within 60 s of NATS returning');
      break;
    }
    await sleep(100);
  }
  if (Date.now() - upAt <= 60_000) ctx.measurements.natsRecoveryMs = Date.now() - upAt;
  for (const a of await Promise.all(probes)) ctx.measurements.natsDownProbes.push({ status: a.status, ms: a.ms });
  const answers = ctx.measurements.natsDownProbes.map((p) => `${p.status || 'none'} in ${Math.round(p.ms)} ms`);
  observe(`commands sent while NATS was down were answered: ${answers.join(', ')}`);
  const during = ctx.load.attemptLog.filter((a) => a.at >= killedAt && a.at < upAt);
  const slowest = Math.max(0, ...during.map((a) => a.ms));
  observe(
    `the load's ${during.length} command attempts meanwhile: ${summarize(during.map((a) => a.status))}; slowest ${Math.round(slowest)} ms`,
  );
  if (ctx.measurements.natsRecoveryMs !== undefined) {
    observe(`first command acknowledged ${seconds(ctx.measurements.natsRecoveryMs)} after nats-server listened again`);
  }
}
