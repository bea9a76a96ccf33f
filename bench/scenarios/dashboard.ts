import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { migrate } from '@lightdom/projector';
import { chromium } from 'playwright-core';
import { startDashboardServer } from '../../packages/dashboard/serve.js';
import { createBenchEnv } from '../lib/env.js';
import { freePort, startProcess, waitForHttp } from '../lib/processes.js';
import { summarize } from '../lib/stats.js';
import type { Scenario } from '../lib/types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dashboardDir = path.join(root, 'packages/dashboard');

/** gzip bytes of every built .js and .css file. */
function gzipSizeOf(dir: string): number {
  let total = 0;
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    if (/\.(js|css)$/.test(name)) total += gzipSync(fs.readFileSync(path.join(dir, name)), { level: 9 }).length;
  }
  return total;
}

export const dashboard: Scenario = {
  name: 'dashboard',
  description:
    "the built dashboard's gzip size (beside React + ReactDOM alone), and the time from navigation to the overview showing its first data in headless chromium, against the real command-api and projector (beside loading a static page)",
  needs: ['nats', 'postgres', 'redis'],
  async run(ctx) {
    ctx.log('vite build…');
    const ownVite = path.join(dashboardDir, 'node_modules/vite/bin/vite.js');
    const vite = fs.existsSync(ownVite) ? ownVite : path.join(root, 'node_modules/vite/bin/vite.js');
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: dashboardDir, stdio: 'pipe' });
    const bundle = gzipSizeOf(path.join(dashboardDir, 'dist'));
    const reactOnly = ['react/cjs/react.production.js', 'react-dom/cjs/react-dom-client.production.js']
      .map((f) => path.join(root, 'node_modules', f))
      .filter((f) => fs.existsSync(f))
      .reduce((n, f) => n + gzipSync(fs.readFileSync(f), { level: 9 }).length, 0);

    const env = await createBenchEnv(ctx.scope, 'dash');
    await migrate(env.pg.pool, env.pg.schema);
    const token = `bench-${env.nats.id}`;
    const port = await freePort();
    const dashPort = await freePort();
    const api = startProcess(
      ctx.scope,
      'service',
      'command-api',
      env.serviceEnv({
        PORT: String(port),
        GRPC_PORT: '0',
        AMQP_PORT: '0',
        AMQP_STREAM: `${env.nats.stream}_AMQP`,
        AMQP_TOPOLOGY_BUCKET: `${env.nats.kvBucket}_TOPO`,
        API_TOKENS: `${token}:bench:admin`,
        WS_ALLOWED_ORIGINS: `http://localhost:${dashPort}`,
        LOG_LEVEL: 'warn',
      }),
    );
    const projector = startProcess(
      ctx.scope,
      'service',
      'projector',
      env.serviceEnv({ PORT: '0', PROJECTOR_DURABLE: 'bench', API_TOKENS: `${token}:bench:admin` }),
    );
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${port}/health`, api),
      projector.waitForLine(/projector ready/, 30_000),
    ]);
    const server = await startDashboardServer({ port: dashPort, apiUrl: `http://127.0.0.1:${port}` });
    ctx.scope.defer(() => server.close());
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox'],
    });
    ctx.scope.defer(() => browser.close());

    // The baseline: one built file (the stylesheet) as a document, no script run.
    const staticFile = `assets/${fs.readdirSync(path.join(dashboardDir, 'dist/assets')).find((f) => f.endsWith('.css'))}`;
    const samples = ctx.pick(3, 10);
    ctx.log(`${samples} cold page loads (a fresh browser context each), overview and a static page…`);
    const overview: number[] = [];
    const staticPage: number[] = [];
    for (let i = 0; i < samples; i++) {
      const context = await browser.newContext();
      await context.addInitScript(`sessionStorage.setItem('lightdom.token', ${JSON.stringify(token)})`);
      const page = await context.newPage();
      let t0 = performance.now();
      await page.goto(`${server.url}/#/`);
      await page.getByTestId('read-model-position').waitFor();
      overview.push(performance.now() - t0);
      t0 = performance.now();
      await page.goto(`${server.url}/${staticFile}`);
      staticPage.push(performance.now() - t0);
      await context.close();
    }
    const first = summarize(overview);
    return [
      ctx.figure({
        metric: 'dashboard bundle (js + css, gzip)',
        unit: 'kB',
        value: bundle / 1024,
        baseline: 'React + ReactDOM alone, gzip',
        baselineValue: reactOnly / 1024,
        notes: 'every file vite build writes to packages/dashboard/dist, gzip level 9',
      }),
      ctx.figure({
        metric: 'overview first render with data, p50',
        unit: 'ms',
        value: first.p50,
        baseline: 'the built stylesheet as a document, same server',
        baselineValue: summarize(staticPage).p50,
        notes: `${samples} cold loads: navigation until the overview shows /api/stats (signed in, through the dashboard server's proxy); max ${first.max.toFixed(0)} ms`,
      }),
    ];
  },
};
