import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@lightdom/testkit';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, chromiumPath, type DashboardStack, startDashboardStack } from './stack.js';

// Run control, signals, child runs and schedules in the dashboard (issue 14), in chromium
// against the real services. Every check waits on what the page shows (playwright locators
// wait; the page follows the live feed and the read models), never on a fixed sleep.
const artifacts = path.join(repoRoot, 'test-artifacts', 'dashboard-run-control');
// A build of its own: dashboard.e2e.spec.ts may build dist/ at the same time.
const distDir = path.join(artifacts, 'dist');
/** Generous: the machine is shared, and a step passes executor, log, feed and projector. */
const T = 30_000;

let stack: DashboardStack;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let approvalWf: string;
let childWf: string;
let parentWf: string;
let tickWf: string;

const shot = (p: Page, name: string) => p.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

async function api<T>(route: string, body?: unknown, token = stack.token): Promise<T> {
  const res = await fetch(`${stack.apiUrl}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
const defineWorkflow = async (name: string, steps: unknown[]) =>
  (await api<{ id: string }>('/api/workflows', { name, steps })).id;
const startRun = async (workflowId: string) =>
  (await api<{ id: string }>(`/api/workflows/${workflowId}/runs`, { input: {} })).id;

/** A page of its own, signed in with `token` through the sign-in form, feed live, role known. */
async function signedIn(context: BrowserContext, token: string, role: string, name: string): Promise<Page> {
  const p = await context.newPage();
  const log = fs.createWriteStream(path.join(artifacts, `console-${name}.log`));
  p.on('console', (m) => log.write(`${m.type()}: ${m.text()}\n`));
  p.on('pageerror', (e) => log.write(`pageerror: ${e.message}\n`));
  await p.goto(`${stack.dashboard.url}/#/`);
  await p.getByLabel('API token').fill(token);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('[data-testid=feed-state][data-state=live]').waitFor({ timeout: T });
  await p.locator(`[data-testid=identity][data-role=${role}]`).waitFor({ timeout: T });
  return p;
}

const openRun = async (p: Page, runId: string) => {
  await p.goto(`${stack.dashboard.url}/#/runs/${runId}`);
  await p.getByRole('heading', { name: `Run ${runId}` }).waitFor({ timeout: T });
};
const runState = (p: Page, status: string) => p.locator(`[data-testid=run-state][data-status=${status}]`);
const stepRow = (p: Page, step: string, status: string) =>
  p.locator(`[data-testid=step-row][data-step=${step}][data-status=${status}]`);
const dagStep = (p: Page, step: string, status: string) =>
  p.locator(`[data-testid=dag-step][data-step=${step}][data-status=${status}]`);
const controls = (p: Page) => p.getByRole('group', { name: 'Run control' });
const visible = (l: Locator) => l.waitFor({ state: 'visible', timeout: T });

beforeAll(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  buildDashboard(distDir);
  stack = await startDashboardStack('dashrun', { distDir });
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  [approvalWf, childWf, tickWf] = await Promise.all([
    defineWorkflow('Approval', [
      { id: 'approve', type: 'wait.signal', input: { name: 'approve' }, timeoutMs: 600_000 },
      {
        id: 'reject',
        type: 'delay',
        input: { ms: 10 },
        dependsOn: ['approve'],
        when: 'steps.approve.output.approved == false',
      },
      { id: 'publish', type: 'delay', input: { ms: 50 }, dependsOn: ['approve'] },
    ]),
    defineWorkflow('Child', [{ id: 'go', type: 'wait.signal', input: { name: 'go' }, timeoutMs: 600_000 }]),
    defineWorkflow('Tick', [{ id: 'tick', type: 'delay', input: { ms: 10 } }]),
  ]);
  parentWf = await defineWorkflow('Parent', [
    { id: 'spawn', type: 'workflow.run', input: { workflowId: childWf }, timeoutMs: 600_000 },
    { id: 'after', type: 'delay', input: { ms: 10 }, dependsOn: ['spawn'] },
  ]);
  page = await signedIn(admin, stack.token, 'admin', 'admin');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('run control in the dashboard', () => {
  let runId: string;

  it('pauses and resumes a run from the UI, the page and the runs list following live', async () => {
    runId = await startRun(approvalWf);
    await openRun(page, runId);
    await visible(stepRow(page, 'approve', 'waiting'));
    await visible(dagStep(page, 'approve', 'waiting'));
    await visible(runState(page, 'started'));
    expect(await stepRow(page, 'approve', 'waiting').textContent()).toMatch(/waiting for signal approve/);

    await controls(page).getByRole('button', { name: 'Pause' }).click();
    await visible(runState(page, 'paused'));
    await visible(page.getByTestId('pause-note'));
    // The held steps say so in the DAG, and the buttons follow the state.
    await visible(page.locator('[data-testid=dag-step][data-step=publish][data-held=true]'));
    await visible(controls(page).getByRole('button', { name: 'Resume' }));
    expect(await controls(page).getByRole('button', { name: 'Pause' }).count()).toBe(0);
    await shot(page, 'run-paused');

    // The runs list (the read model) shows it paused too.
    await page.goto(`${stack.dashboard.url}/#/runs`);
    await visible(page.locator(`[data-testid=run-row][data-run="${runId}"][data-status=paused]`));

    await openRun(page, runId);
    await controls(page).getByRole('button', { name: 'Resume' }).click();
    await visible(runState(page, 'started'));
    await visible(controls(page).getByRole('button', { name: 'Pause' }));
    expect(await page.getByTestId('pause-note').count()).toBe(0);
  }, 60_000);

  it('sends a signal to the waiting step from the UI; the run completes with the other branch skipped', async () => {
    const form = page.getByRole('form', { name: 'Signal approve' });
    await visible(form);
    // A payload that is not JSON is refused at its field, and nothing is sent.
    await form.getByLabel(/Payload for signal approve/).fill('{nope');
    await form.getByRole('button', { name: 'Send signal approve' }).click();
    await visible(form.getByText(/not JSON/));
    expect(await stepRow(page, 'approve', 'waiting').count()).toBe(1);

    await form.getByLabel(/Payload for signal approve/).fill('{"approved": true}');
    await form.getByRole('button', { name: 'Send signal approve' }).click();
    await visible(stepRow(page, 'approve', 'succeeded'));
    await visible(stepRow(page, 'reject', 'skipped'));
    await visible(dagStep(page, 'reject', 'skipped'));
    await visible(stepRow(page, 'publish', 'succeeded'));
    await visible(runState(page, 'succeeded'));
    expect(await stepRow(page, 'reject', 'skipped').textContent()).toMatch(/was false/);
    // A finished run offers nothing to do.
    expect(await page.getByTestId('signal-form').count()).toBe(0);
    expect(await controls(page).getByRole('button').count()).toBe(0);
    await shot(page, 'run-signalled');
  }, 60_000);

  it('shows a reader the run and its state, without any action button', async () => {
    const waiting = await startRun(approvalWf);
    // The admin sees the controls on this run …
    await openRun(page, waiting);
    await visible(stepRow(page, 'approve', 'waiting'));
    await visible(controls(page).getByRole('button', { name: 'Cancel run' }));
    await visible(page.getByRole('form', { name: 'Signal approve' }));

    // … the reader sees the same run with none of them.
    const readerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const reader = await signedIn(readerContext, stack.readerToken, 'reader', 'reader');
      await openRun(reader, waiting);
      await visible(stepRow(reader, 'approve', 'waiting'));
      await visible(runState(reader, 'started'));
      expect(await controls(reader).count()).toBe(0);
      expect(await reader.getByTestId('signal-form').count()).toBe(0);
      expect(await reader.getByRole('button', { name: /Pause|Resume|Cancel run|Retry|Send signal/ }).count()).toBe(0);
      await reader.goto(`${stack.dashboard.url}/#/schedules`);
      await visible(reader.getByRole('table', { name: 'Schedules' }));
      expect(await reader.getByRole('region', { name: 'New schedule' }).count()).toBe(0);
      await shot(reader, 'reader-run');
    } finally {
      await readerContext.close();
    }

    // And the admin cancels it from the UI.
    await controls(page).getByRole('button', { name: 'Cancel run' }).click();
    await visible(runState(page, 'cancelled'));
  }, 60_000);

  it('retries a failed step from the UI once its cause is fixed', async () => {
    // The step launches a campaign that does not exist yet: refused by the domain, the step fails for good.
    const campaignId = `retry-${Date.now()}`;
    const wf = await defineWorkflow('Launch', [
      { id: 'launch', type: 'campaign.command', input: { type: 'LaunchCampaign', aggregateId: campaignId, data: {} } },
    ]);
    const failing = await startRun(wf);
    await openRun(page, failing);
    await visible(runState(page, 'failed'));
    await visible(stepRow(page, 'launch', 'failed'));
    await visible(dagStep(page, 'launch', 'failed'));
    const retry = controls(page).getByRole('button', { name: 'Retry step launch' });
    await visible(retry);
    await shot(page, 'run-failed');

    await api('/api/commands', {
      type: 'CreateCampaign',
      aggregateId: campaignId,
      data: { name: 'Retried', budget: { amount: 10, currency: 'EUR' } },
    });
    await retry.click();
    await visible(page.locator('[data-testid=step-row][data-step=launch][data-attempt="2"][data-status=succeeded]'));
    await visible(runState(page, 'succeeded'));
    expect(await controls(page).getByRole('button').count()).toBe(0);
  }, 60_000);

  it('links a parent run to its child run and back, while the child runs and after it ended', async () => {
    const parentId = await startRun(parentWf);
    await openRun(page, parentId);
    await visible(stepRow(page, 'spawn', 'running'));
    // While the child waits, its link comes from the runs read model (parentRunId).
    const toChild = page.locator('[data-testid=child-run-link][data-step=spawn]');
    await visible(toChild);
    const childId = (await toChild.getAttribute('href'))?.split('/').pop() ?? '';
    expect(childId).toMatch(/^wfc-/);
    await visible(page.getByRole('table', { name: 'Child runs' }).getByRole('link', { name: childId }));

    await toChild.click();
    await page.getByRole('heading', { name: `Run ${childId}` }).waitFor({ timeout: T });
    await visible(page.locator('[data-testid=run-source][data-kind=workflow]'));
    const toParent = page.getByTestId('parent-run-link');
    await visible(toParent);
    expect(await toParent.textContent()).toBe(parentId);
    await shot(page, 'child-run');

    // The child takes its signal from the UI; it and then its parent complete.
    await visible(stepRow(page, 'go', 'waiting'));
    await page.getByRole('form', { name: 'Signal go' }).getByRole('button', { name: 'Send signal go' }).click();
    await visible(runState(page, 'succeeded'));

    await toParent.click();
    await page.getByRole('heading', { name: `Run ${parentId}` }).waitFor({ timeout: T });
    await visible(runState(page, 'succeeded'));
    await visible(page.locator('[data-testid=run-source][data-kind=manual]'));
    // Now the step's output names the child: the link stays.
    await visible(page.locator(`[data-testid=child-run-link][data-step=spawn][href$="${childId}"]`));
    await shot(page, 'parent-run');
  }, 60_000);

  it('lists schedules, with API errors at their field, the next fire, the fired run and its source', async () => {
    await page.goto(`${stack.dashboard.url}/#/schedules`);
    const form = page.getByRole('region', { name: 'New schedule' });
    await form.getByLabel('Workflow id').fill(tickWf);
    await form.getByLabel('Cron').fill('not a cron');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    // The core refuses the cron (400 naming data.cron): shown at the Cron field.
    await visible(form.locator('.mantine-TextInput-error'));

    // Every second: it fires within the test, and is paused from the page once it did.
    await form.getByLabel('Cron').fill('* * * * * *');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await visible(form.getByTestId('schedule-created'));
    const row = page.locator(`[data-testid=schedule-row][data-status=active][data-workflow="${tickWf}"]`);
    await visible(row);
    expect(await row.getByTestId('schedule-cron').textContent()).toBe('* * * * * *');
    // The workflow by name, linked to its page.
    await visible(row.getByRole('link', { name: 'Tick' }));
    expect(await row.getByRole('link', { name: 'Tick' }).getAttribute('href')).toBe(`#/workflows/${tickWf}`);
    expect(await row.getByTestId('schedule-next').textContent()).not.toBe('—');
    const lastRun = row.getByTestId('schedule-last-run');
    await visible(lastRun);
    await shot(page, 'schedules');
    await row.getByRole('button', { name: 'Pause' }).click();
    const paused = page.locator(`[data-testid=schedule-row][data-status=paused][data-workflow="${tickWf}"]`);
    await visible(paused);

    await paused.getByTestId('schedule-last-run').click();
    await page.getByRole('heading', { name: /^Run sch-/ }).waitFor({ timeout: T });
    await visible(page.locator('[data-testid=run-source][data-kind=schedule]'));
  }, 60_000);
});
