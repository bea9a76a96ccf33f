import type { FaultContext } from '../lib/context.js';
import { inject, observe, seconds } from '../lib/log.js';
import type { SupervisedService } from '../lib/supervisor.js';

/** kill -9 one service process; the supervisor starts it again, as Kubernetes would. */
export async function killService(_ctx: FaultContext, svc: SupervisedService): Promise<void> {
  inject(`kill -9 ${svc.name} (pid ${svc.pid()})`);
  const killedAt = Date.now();
  await svc.kill9();
  await svc.waitReady(60_000);
  observe(`${svc.name} restarted by the supervisor, /ready again ${seconds(Date.now() - killedAt)} after the kill`);
}
