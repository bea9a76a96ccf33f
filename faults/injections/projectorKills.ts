import { setTimeout as sleep } from 'node:timers/promises';
import { checkpoint, type FaultContext } from '../lib/context.js';
import { inject, observe, seconds } from '../lib/log.js';
import type { SupervisedService } from '../lib/supervisor.js';

/**
 * kill -9 the projector again and again at random moments. Each restart leaves a backlog
 * that it works off in full batches for a few hundred ms, then it follows the load batch
 * by batch. Every other kill falls into that catch-up, when the projector is busy all the
 * time, so kills land between the rows and the checkpoint as often as they can, if the two
 * could ever be apart; the others fall anywhere.
 */
export async function projectorKills(ctx: FaultContext, svc: SupervisedService, times: number): Promise<void> {
  for (let i = 1; i <= times; i++) {
    await svc.waitReady(60_000);
    await sleep(i % 2 === 1 ? 50 + Math.random() * 350 : 150 + Math.random() * 1200);
    const at = await checkpoint(ctx);
    inject(`kill -9 projector, ${i} of ${times} (pid ${svc.pid()}, checkpoint at ${at})`);
    const killedAt = Date.now();
    await svc.kill9();
    await svc.waitReady(60_000);
    observe(`projector /ready again ${seconds(Date.now() - killedAt)} after the kill`);
  }
}
