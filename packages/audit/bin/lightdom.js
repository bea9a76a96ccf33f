#!/usr/bin/env node
// `lightdom` as npm links it (`npx lightdom ...`). The built CLI (dist/, `npm run build`) runs
// in-process; a checkout that was only `npm install`ed runs the TypeScript sources through tsx
// (a devDependency) in a child with the `lightdom-src` condition, so the command works either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = new URL('../dist/cli/lightdom.js', import.meta.url);
// The CLI's own dependencies must be built too, or dist/ would import a missing dist/.
const require = createRequire(import.meta.url);
const builtDeps = ['@lightdom/runtime', '@lightdom/eventstore', '@lightdom/anchor', '@lightdom/domain'].every(
  (name) => {
    try {
      return existsSync(require.resolve(name));
    } catch {
      return false;
    }
  },
);

if (existsSync(built) && builtDeps) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = require.resolve('tsx');
  } catch {
    process.stderr.write('lightdom: not built and tsx is not installed; run `npm run build` first\n');
    process.exit(1);
  }
  const source = fileURLToPath(new URL('../src/cli/lightdom.ts', import.meta.url));
  const child = spawnSync(
    process.execPath,
    ['--conditions=lightdom-src', '--import', pathToFileURL(tsx).href, source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  if (child.error) throw child.error;
  process.exit(child.status ?? 1);
}
