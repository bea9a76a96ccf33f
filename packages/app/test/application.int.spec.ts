import { randomUUID } from 'node:crypto';
import { type Identity, upcastEvent } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore } from '@lightdom/eventstore';
import { createTokenRegistry } from '@lightdom/runtime';
import { createNatsTestEnv, type NatsTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Application, createApplication } from '../src/index.js';

let env: NatsTestEnv;
let store: EventStore;
let app: Application;
const ctx = () => ({ correlationId: randomUUID(), causationId: randomUUID() });
const admin: Identity = { actor: 'root', role: 'admin' };
const operator: Identity = { actor: 'alice', role: 'operator' };
const reader: Identity = { actor: 'rita', role: 'reader' };
const executor: Identity = { actor: 'executor', role: 'service' };
const steps = [{ id: 'wait', type: 'delay', input: { ms: 600_000 } }];

beforeAll(async () => {
  env = await createNatsTestEnv('appcore');
  store = createEventStore(
    { nc: env.nc },
    { stream: env.stream, subjectPrefix: env.subjectPrefix, upcast: upcastEvent },
  );
  await store.ensureStream();
  app = createApplication({
    commands: createCommandHandler({ store }),
    store,
    tokens: createTokenRegistry([
      { token: 'tok-operator', identity: operator },
      { token: 'tok-reader', identity: reader },
    ]),
  });
});
afterAll(async () => env?.cleanup());

async function defineWorkflow(): Promise<string> {
  const r = await app.submit(operator, { type: 'DefineWorkflow', data: { name: 'Wait', steps } }, ctx());
  await app.submit(
    operator,
    {
      type: 'ReviseWorkflow',
      aggregateId: r.id,
      data: { steps: [...steps, { id: 'more', type: 'delay', input: { ms: 1 }, dependsOn: ['wait'] }] },
    },
    ctx(),
  );
  return r.id;
}

describe('authenticate', () => {
  it('maps a known token to its identity and refuses a missing or wrong one', () => {
    expect(app.authenticate({ token: 'tok-reader' })).toEqual(reader);
    expect(() => app.authenticate({})).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
    expect(() => app.authenticate({ token: 'tok-readers' })).toThrow(expect.objectContaining({ code: 'UNAUTHORIZED' }));
  });
});

describe('submit', () => {
  it('refuses a reader command and an operator internal command, and appends nothing', async () => {
    const id = await defineWorkflow();
    const run = await app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: id, input: {} } }, ctx());
    const head = await store.headPosition();
    await expect(
      app.submit(
        reader,
        { type: 'CreateCampaign', data: { name: 'X', budget: { amount: 1, currency: 'EUR' } } },
        ctx(),
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      app.submit(
        operator,
        { type: 'CompleteWorkflowStep', aggregateId: run.id, data: { stepId: 'wait', output: 1 } },
        ctx(),
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN', details: { allowedRoles: ['service', 'admin'] } });
    expect(await store.headPosition()).toBe(head);
  });

  it("fills a run's steps from the definition, records who asked, and refuses steps, unknown workflows and versions", async () => {
    const id = await defineWorkflow();
    const v1 = await app.submit(
      operator,
      { type: 'RequestWorkflowRun', data: { workflowId: id, definitionVersion: 1, input: { product: 'shoes' } } },
      ctx(),
    );
    const [requested] = (await store.readAggregate('workflowRun', v1.id))[0]!.events;
    expect(requested!.data).toMatchObject({
      workflowId: id,
      definitionVersion: 1,
      steps: [{ id: 'wait', type: 'delay' }],
      input: { product: 'shoes' },
      requestedBy: operator,
    });
    const current = await app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: id } }, ctx());
    const [latest] = (await store.readAggregate('workflowRun', current.id))[0]!.events;
    expect((latest!.data as { steps: unknown[]; definitionVersion: number }).definitionVersion).toBe(2);
    expect((latest!.data as { steps: unknown[] }).steps).toHaveLength(2);

    const head = await store.headPosition();
    await expect(
      app.submit(
        operator,
        { type: 'RequestWorkflowRun', data: { workflowId: id, definitionVersion: 1, steps } },
        ctx(),
      ),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ field: 'data.steps' }] });
    await expect(
      app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: 'nope-nope' } }, ctx()),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', issues: [{ field: 'data.workflowId' }] });
    await expect(
      app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: id, definitionVersion: 99 } }, ctx()),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', issues: [{ field: 'data.definitionVersion' }] });
    await app.submit(operator, { type: 'DeprecateWorkflow', aggregateId: id, data: {} }, ctx());
    const afterDeprecation = await store.headPosition();
    await expect(
      app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: id } }, ctx()),
    ).rejects.toMatchObject({ code: 'INVALID_TRANSITION' });
    expect(afterDeprecation).toBe(head + 1);
    expect(await store.headPosition()).toBe(afterDeprecation);
  });

  it("acts for a run's requester: authorised as them, recorded as them via the service", async () => {
    const id = await defineWorkflow();
    const run = await app.submit(operator, { type: 'RequestWorkflowRun', data: { workflowId: id } }, ctx());
    const create = { type: 'CreateCampaign', data: { name: 'From a step', budget: { amount: 5, currency: 'EUR' } } };
    const made = await app.submit(executor, create, ctx(), { onBehalfOfRun: run.id });
    const [commit] = await store.readAggregate('campaign', made.id);
    expect(commit).toMatchObject({ actor: 'alice', via: 'executor' });
    // The requester is an operator: an admin-only command from a step is refused.
    await expect(
      app.submit(
        executor,
        { type: 'SkipProjectionCommit', aggregateId: 'campaigns', data: { position: 1, reason: 'x' } },
        ctx(),
        {
          onBehalfOfRun: run.id,
        },
      ),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // Only a service (or an admin) may act for a run.
    await expect(app.submit(operator, create, ctx(), { onBehalfOfRun: run.id })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(app.submit(executor, create, ctx(), { onBehalfOfRun: 'no-such-run' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    // Internal commands are the service's own: no delegation needed.
    await app.submit(executor, { type: 'StartWorkflowRun', aggregateId: run.id, data: {} }, ctx());
    await expect(
      app.submit(admin, { type: 'StartWorkflowRun', aggregateId: run.id, data: {} }, ctx()),
    ).rejects.toMatchObject({
      code: 'INVALID_TRANSITION',
    });
  });
});

describe('events', () => {
  it('pages one aggregate with aggregateId, and needs aggregateType with it', async () => {
    const id = await defineWorkflow();
    const page = await app.events(reader, { after: 0, limit: 10, aggregateType: 'workflow', aggregateId: id });
    expect(page.events.map((e) => e.type)).toEqual(['WorkflowDefined', 'WorkflowRevised']);
    await expect(app.events(reader, { after: 0, limit: 10, aggregateId: id })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ field: 'aggregateType' }],
    });
  });
});
