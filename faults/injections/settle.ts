import type { FaultContext } from '../lib/context.js';
import { observe, seconds } from '../lib/log.js';

/**
 * After a fault every service must come back to /ready by itself (the supervisor only
 * restarts what was killed). A service that does not is recorded, not waited for forever.
 */
export async function settle(ctx: FaultContext, after: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  ctx.measurements.lastDisruptionAt = started;
  const results = await Promise.all(
    ctx.stack.services.map((s) =>
      s.waitReady(timeoutMs).then(
        () => undefined,
        () => s.name,
      ),
    ),
  );
  const failed = results.filter((r): r is string => r !== undefined);
  for (const name of failed) ctx.measurements.notReady.push(`${name} after ${after}`);
  if (failed.length > 0) observe(`NOT READY within ${seconds(timeoutMs)} after ${after}: ${failed.join(', ')}`);
  else observe(`all services ready (${seconds(Date.now() - started)} after ${after} ended)`);
}
