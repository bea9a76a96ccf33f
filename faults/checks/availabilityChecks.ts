import type { FaultContext } from '../lib/context.js';
import { type CheckResult, check, firstOf } from './check.js';
import type { WorkerBacklog } from './quiesce.js';

export const limits = {
  /** A command sent while NATS is down must be refused within this, in ms. */
  unavailableAnswerMs: 2000,
  /** From nats-server back to the first acknowledged command, in ms. */
  natsRecoveryMs: 10_000,
  /** From PostgreSQL back to reads answering and the projector moving again, in ms. */
  postgresRecoveryMs: 15_000,
};

/** How the services behaved while their dependencies failed. */
export function availabilityChecks(ctx: FaultContext): CheckResult[] {
  const m = ctx.measurements;
  const slowOrWrong = m.natsDownProbes.filter((p) => p.status !== 503 || p.ms >= limits.unavailableAnswerMs);
  const restarts = ctx.stack.services.map((s) => ({
    name: s.name,
    restarts: s.starts - 1,
    injected: s.injectedKills,
    unexpected: s.unexpectedExits,
  }));
  const unexplained = restarts.filter((r) => r.restarts !== r.injected || r.unexpected.length > 0);
  const within = (ms: number | undefined, limit: number) => ms !== undefined && ms < limit;
  const fmt = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);
  const worst = Math.max(0, ...m.natsDownProbes.map((p) => p.ms));
  return [
    check(
      `the API answered 503 within ${limits.unavailableAnswerMs} ms while NATS was down`,
      m.natsDownProbes.length > 0 && slowOrWrong.length === 0,
      `${m.natsDownProbes.length} commands sent, slowest answer ${Math.round(worst)} ms${slowOrWrong.length ? `; wrong: ${firstOf(slowOrWrong, 5, (p) => `${p.status || 'no answer'} in ${Math.round(p.ms)} ms`)}` : ''}`,
    ),
    check(
      `the API accepted commands again by itself within ${limits.natsRecoveryMs / 1000} s of NATS returning`,
      within(m.natsRecoveryMs, limits.natsRecoveryMs),
      `first acknowledged command ${fmt(m.natsRecoveryMs)} after nats-server listened again`,
    ),
    check(
      `reads and the projector resumed by themselves within ${limits.postgresRecoveryMs / 1000} s of PostgreSQL returning`,
      within(m.readRecoveryMs, limits.postgresRecoveryMs) && within(m.projectorResumeMs, limits.postgresRecoveryMs),
      `reads after ${fmt(m.readRecoveryMs)}, projector after ${fmt(m.projectorResumeMs)}`,
    ),
    check(
      'no service needed a restart it was not killed for (restarts = injected kills)',
      unexplained.length === 0,
      restarts
        .map(
          (r) =>
            `${r.name} ${r.restarts}/${r.injected}${r.unexpected.length ? ` (exited by itself: ${r.unexpected.map((u) => `code ${u.code} ${u.signal ?? ''}`).join(', ')})` : ''}`,
        )
        .join(', '),
    ),
    check(
      'every service answered /ready after every injection',
      m.notReady.length === 0,
      m.notReady.length === 0 ? `${ctx.stack.services.length} services` : `not ready: ${m.notReady.join('; ')}`,
    ),
  ];
}

/** Everything the end-state must show: every service ready, every worker consumer drained. */
export async function endStateChecks(ctx: FaultContext, workers: WorkerBacklog): Promise<CheckResult[]> {
  const ready = await Promise.all(ctx.stack.services.map(async (s) => ({ name: s.name, ok: await s.ready() })));
  const notReady = ready.filter((r) => !r.ok).map((r) => r.name);
  return [
    check(
      'every service is ready at the end, without a manual restart',
      notReady.length === 0,
      notReady.length === 0 ? ready.map((r) => r.name).join(', ') : `not ready: ${notReady.join(', ')}`,
    ),
    check(
      'the executor and AI worker consumers handled every commit meant for them',
      workers.backlog.length === 0,
      workers.backlog.length === 0
        ? `${workers.services.join(', ') || 'no worker services'} drained`
        : workers.backlog.join('; '),
    ),
  ];
}
