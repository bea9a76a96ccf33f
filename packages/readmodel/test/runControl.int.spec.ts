import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadModelQueries } from '../src/index.js';
import { handlerFor, meta, startProjector } from './support.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('rmctl'), createPgTestEnv('rmctl')]);
});
afterAll(async () => Promise.all([nats?.cleanup(), pgEnv?.cleanup()]));

const steps = [
  { id: 'a', type: 'delay', input: { ms: 1 } },
  { id: 'b', type: 'delay', input: { ms: 1 }, dependsOn: ['a'] },
];

describe('run control in the read model', () => {
  it('shows a paused run with its reason, where it came from, its parent, and a step retried by hand', async () => {
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool },
      { stream: nats.stream, subjectPrefix: nats.subjectPrefix, schema: pgEnv.schema, durable: `p-${nats.id}` },
    );
    try {
      const h = (type: string, data: Record<string, unknown>, aggregateId?: string) =>
        commands.handle({ type, data, ...(aggregateId ? { aggregateId } : {}) }, meta());
      const source = { kind: 'n8n', ref: 'intake/42' };
      const parent = { runId: 'parent-1', stepId: 'sub', attempt: 1 };
      const run = await h('RequestWorkflowRun', { workflowId: 'w', definitionVersion: 1, steps, source, parent });
      await h('StartWorkflowRun', {}, run.id);
      const paused = await h('PauseWorkflowRun', { reason: 'legal review' }, run.id);
      await projector.waitFor(paused.position, 20_000);
      const reads = createReadModelQueries({ pool: pgEnv.pool, schema: pgEnv.schema });
      expect(await reads.runs.get(run.id)).toMatchObject({
        status: 'paused',
        pauseReason: 'legal review',
        source,
        parentRunId: 'parent-1',
      });
      expect((await reads.runs.list({ status: 'paused', limit: 10 })).items.map((r) => r.runId)).toEqual([run.id]);
      // A parent's children, by the parent's run id (GET /api/runs?parentRunId=).
      const other = await h('RequestWorkflowRun', { workflowId: 'w', definitionVersion: 1, steps });
      await projector.waitFor(other.position, 20_000);
      expect((await reads.runs.list({ parentRunId: 'parent-1', limit: 10 })).items.map((r) => r.runId)).toEqual([
        run.id,
      ]);
      expect((await reads.runs.list({ parentRunId: run.id, limit: 10 })).items).toEqual([]);

      await h('ResumeWorkflowRun', {}, run.id);
      await h('StartWorkflowStep', { stepId: 'a', attempt: 1 }, run.id);
      const failed = await h('FailWorkflowStep', { stepId: 'a', error: 'boom' }, run.id);
      await projector.waitFor(failed.position, 20_000);
      expect(await reads.runs.get(run.id)).toMatchObject({ status: 'failed', failedStepId: 'a', pauseReason: null });

      const retried = await h('RetryWorkflowStep', { stepId: 'a' }, run.id);
      await projector.waitFor(retried.position, 20_000);
      const view = await reads.runs.get(run.id);
      expect(view).toMatchObject({ status: 'started', error: null, failedStepId: null, finishedAt: null });
      expect(view?.steps?.[0]).toMatchObject({ stepId: 'a', status: 'pending', attempt: 1, error: null });
    } finally {
      await projector.stop();
    }
  });

  it('shows schedules: what they run, when, their status and their last fired slot', async () => {
    const { store, commands } = handlerFor(nats);
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool },
      { stream: nats.stream, subjectPrefix: nats.subjectPrefix, schema: pgEnv.schema, durable: `s-${nats.id}` },
    );
    try {
      await store.ensureStream();
      const h = (type: string, data: Record<string, unknown>, aggregateId?: string) =>
        commands.handle({ type, data, ...(aggregateId ? { aggregateId } : {}) }, meta());
      const created = await h('CreateSchedule', {
        workflowId: 'w1',
        at: '2020-01-01T00:00:00Z',
        input: { n: 1 },
        createdBy: { actor: 'olga', role: 'operator' },
      });
      const cron = await h('CreateSchedule', { workflowId: 'w2', cron: '0 9 * * 1-5', timezone: 'Europe/Berlin' });
      await h('FireSchedule', { slot: '2020-01-01T00:00:00Z', runId: 'run-a', missedSlots: 0 }, created.id);
      const paused = await h('PauseSchedule', {}, cron.id);
      await projector.waitFor(paused.position, 20_000);
      const reads = createReadModelQueries({ pool: pgEnv.pool, schema: pgEnv.schema });
      expect(await reads.schedules.get(created.id)).toMatchObject({
        workflowId: 'w1',
        status: 'completed',
        at: '2020-01-01T00:00:00.000Z',
        input: { n: 1 },
        createdBy: 'olga',
        lastSlot: '2020-01-01T00:00:00.000Z',
        lastRunId: 'run-a',
        firedCount: 1,
      });
      expect(await reads.schedules.get(cron.id)).toMatchObject({
        status: 'paused',
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
        firedCount: 0,
      });
      const byWorkflow = await reads.schedules.list({ workflowId: 'w2', limit: 10 });
      expect(byWorkflow.items.map((v) => v.scheduleId)).toEqual([cron.id]);
    } finally {
      await projector.stop();
    }
  });
});
