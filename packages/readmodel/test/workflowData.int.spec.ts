import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadModelQueries } from '../src/index.js';
import { handlerFor, meta, startProjector } from './support.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('rmflow'), createPgTestEnv('rmflow')]);
});
afterAll(async () => Promise.all([nats?.cleanup(), pgEnv?.cleanup()]));

describe('branches and signals in the read model (issue 14 part A)', () => {
  it('shows a skipped step as skipped and a signalled wait.signal step as succeeded', async () => {
    const { store, commands } = handlerFor(nats);
    await store.ensureStream();
    const projector = await startProjector(
      { nc: nats.nc, pool: pgEnv.pool },
      { stream: nats.stream, subjectPrefix: nats.subjectPrefix, schema: pgEnv.schema, durable: `p-${nats.id}` },
    );
    try {
      const h = (type: string, data: Record<string, unknown>, aggregateId?: string) =>
        commands.handle({ type, data, ...(aggregateId ? { aggregateId } : {}) }, meta());
      const steps = [
        { id: 'ok', type: 'wait.signal', input: { name: 'approval' } },
        { id: 'launch', type: 'delay', dependsOn: ['ok'], when: 'steps.ok.output.approved', input: { ms: 0 } },
      ];
      const run = await h('RequestWorkflowRun', { workflowId: 'w', definitionVersion: 1, steps });
      await h('StartWorkflowRun', {}, run.id);
      await h('StartWorkflowStep', { stepId: 'ok', attempt: 1 }, run.id);
      await h('SignalWorkflowRun', { name: 'approval', payload: { approved: false } }, run.id);
      const last = await h('StartWorkflowStep', { stepId: 'launch', attempt: 1 }, run.id);
      await projector.waitFor(last.position, 20_000);
      const view = await createReadModelQueries({ pool: pgEnv.pool, schema: pgEnv.schema }).runs.get(run.id);
      expect(view).toMatchObject({ status: 'succeeded' });
      expect(view?.steps?.map((s) => [s.stepId, s.status])).toEqual([
        ['ok', 'succeeded'],
        ['launch', 'skipped'],
      ]);
    } finally {
      await projector.stop();
    }
  });
});
