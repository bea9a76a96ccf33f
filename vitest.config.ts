import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = fileURLToPath(new URL('./packages/', import.meta.url));

/** Every test file, whatever its tier. */
const allSpecs = [
  'packages/*/src/**/*.spec.ts',
  'packages/*/test/**/*.spec.ts',
  'test/**/*.spec.ts',
  'scripts/**/*.spec.ts',
];
const unitSpecs = allSpecs.map((p) => p.replace(/\*\.spec\.ts$/, '*.unit.spec.ts'));
const e2eSpecs = ['test/e2e/**/*.spec.ts', ...allSpecs.map((p) => p.replace(/\*\.spec\.ts$/, '*.e2e.spec.ts'))];

/**
 * Three tiers (`vitest run --project unit|int|e2e`, or all of them):
 * - unit: `*.unit.spec.ts`, pure code, no server needed (so no server check either);
 * - int: every other spec outside e2e, against the real NATS, Postgres, Redis and RabbitMQ;
 * - e2e: `test/e2e/**` and `*.e2e.spec.ts`, whole processes or the whole stack.
 * int and e2e first check that every server answers, failing the run with their names.
 */
export default defineConfig({
  resolve: {
    // Workspace packages resolve to their TypeScript sources: no build needed to test.
    alias: [{ find: /^@lightdom\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      { extends: true, test: { name: 'unit', include: unitSpecs } },
      {
        extends: true,
        test: {
          name: 'int',
          include: allSpecs,
          exclude: [...unitSpecs, ...e2eSpecs, '**/node_modules/**'],
          globalSetup: ['./vitest.global-setup.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'e2e', include: e2eSpecs, globalSetup: ['./vitest.global-setup.ts'] },
      },
    ],
  },
});
