import { createCampaignsProjection, createProjector, migrate } from '@lightdom/projector';
import { createLogger } from '@lightdom/runtime';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { buildTestApp } from '../../packages/command-api/test/harness.js';

export interface TestStack {
  nats: NatsTestEnv;
  pgEnv: PgTestEnv;
  api: Awaited<ReturnType<typeof buildTestApp>>;
  projector: ReturnType<typeof createProjector>;
  stop(): Promise<void>;
}

/** The command-api and the projector in-process, on a stream and schema of their own. */
export async function startStack(
  label: string,
  apiOptions: Parameters<typeof buildTestApp>[2] = {},
): Promise<TestStack> {
  const [nats, pgEnv] = await Promise.all([createNatsTestEnv(label), createPgTestEnv(label)]);
  await migrate(pgEnv.pool, pgEnv.schema);
  const api = await buildTestApp(nats, pgEnv, apiOptions);
  const projector = createProjector(
    { nc: nats.nc, pool: pgEnv.pool, logger: createLogger('projector', { level: 'silent' }) },
    {
      stream: nats.stream,
      subjectPrefix: nats.subjectPrefix,
      schema: pgEnv.schema,
      durable: `p-${nats.id}`,
      projections: [createCampaignsProjection()],
    },
  );
  await projector.start();
  return {
    nats,
    pgEnv,
    api,
    projector,
    async stop() {
      await projector.stop();
      await api.close();
      await Promise.all([nats.cleanup(), pgEnv.cleanup()]);
    },
  };
}
