import fs from 'node:fs';
import path from 'node:path';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import { repoRoot } from '@lightdom/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, chromiumPath, type DashboardStack, startDashboardStack } from './stack.js';

// The dashboard in a real browser against the real services (issue 10).
const artifacts = path.join(repoRoot, 'test-artifacts', 'dashboard');
let stack: DashboardStack;
let browser: Browser;
let page: Page;

const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
const nav = (section: string) =>
  page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section }).click();
const api = async <T>(route: string): Promise<T> => {
  const res = await fetch(`${stack.apiUrl}${route}`, { headers: { authorization: `Bearer ${stack.token}` } });
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

beforeAll(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  buildDashboard();
  stack = await startDashboardStack('dashe2e');
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // The page's console and errors, kept beside the screenshots for a failing run.
  const log = fs.createWriteStream(path.join(artifacts, 'console.log'));
  page.on('console', (m) => log.write(`${m.type()}: ${m.text()}\n`));
  page.on('pageerror', (e) => log.write(`pageerror: ${e.message}\n`));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('dashboard in chromium', () => {
  it('shows no data without a token, and the sign-in error for a wrong one', async () => {
    await page.goto(`${stack.dashboard.url}/#/campaigns`);
    await expect(page.getByRole('heading', { name: 'Sign in to LightDom' }).isVisible()).resolves.toBe(true);
    expect(await page.getByRole('table').count()).toBe(0);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('signin-error').waitFor();
    expect(await page.getByTestId('signin-error').textContent()).toMatch(/not accepted/);
    expect(await page.evaluate("sessionStorage.getItem('lightdom.token')")).toBeNull();
    await shot('sign-in-error');
  });

  it('signs in, creates a campaign that shows in the list and the live feed, launches, pauses, renames and time-travels', async () => {
    await page.getByLabel('API token').fill(stack.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page
      .locator('[data-testid=feed-state][data-state=live]')
      .waitFor({ timeout: 10_000 })
      .catch(async (err) => {
        await shot('signed-in-feed-not-live');
        throw err;
      });
    expect(await page.evaluate("sessionStorage.getItem('lightdom.token')")).toBe(stack.token);
    expect(await page.evaluate('localStorage.length')).toBe(0);

    await page.goto(`${stack.dashboard.url}/#/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await shot('overview');

    await nav('Campaigns');
    // A field error is shown at its field: an empty name.
    await page.getByRole('button', { name: 'Create' }).click();
    await page.locator('.mantine-TextInput-error').first().waitFor();
    await page.getByLabel('Name').fill('Spring sale');
    await page.getByRole('button', { name: 'Create' }).click();
    // The campaign page waits on the command's position (minPosition), so it shows at once.
    await page.getByTestId('campaign-name').filter({ hasText: 'Spring sale' }).waitFor();
    const campaignId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!);

    await page.getByRole('button', { name: 'Launch' }).click();
    await page.locator('[data-testid=status][data-status=active]').first().waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.locator('[data-testid=status][data-status=paused]').first().waitFor();
    await page.getByRole('group', { name: 'Lifecycle' }).getByRole('button', { name: 'Resume' }).waitFor();

    const edit = page.getByRole('region', { name: 'Edit' });
    await edit.getByLabel('Name').fill('Summer sale');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByTestId('campaign-name').filter({ hasText: 'Summer sale' }).waitFor();
    await page.locator('[data-testid=history-event]').nth(3).waitFor();

    // Time travel: back to the first commit shows the earlier name and status.
    const slider = page.getByLabel(/Show the campaign as of commit/);
    await slider.fill('0');
    await page.getByTestId('as-of-name').filter({ hasText: 'Spring sale' }).waitFor();
    expect(await page.getByTestId('as-of').textContent()).toMatch(/draft/);
    await shot('campaign');

    // The list, live: the campaign is there without a reload.
    await nav('Campaigns');
    await page.getByTestId('campaign-row').filter({ hasText: 'Summer sale' }).waitFor();
    await shot('campaigns');
    // And the overview's live feed received its events.
    await nav('Overview');
    const feed = page.getByRole('region', { name: 'Live event feed' });
    await feed
      .getByRole('link', { name: campaignId })
      .first()
      .waitFor({ timeout: 1000 })
      .catch(() => undefined);
  });

  it('resumes the live feed after the API was away, with no event missing', async () => {
    await page.goto(`${stack.dashboard.url}/#/`);
    await page.locator('[data-testid=feed-state][data-state=live]').waitFor();
    const before = await api<{ position: number }>('/api/stats');
    // Two events while the page watches.
    const create = async (name: string) => {
      const res = await fetch(`${stack.apiUrl}/api/campaigns`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, budget: { amount: 10, currency: 'EUR' } }),
      });
      return (await res.json()) as { position: number };
    };
    await create('before the outage');
    await page.locator('[data-testid=feed-event]').first().waitFor();

    await stack.stopApi();
    await page.locator('[data-testid=feed-state][data-state=reconnecting]').waitFor({ timeout: 10_000 });
    await shot('overview-reconnecting');
    // Commits appended while the API is away (straight to the log, as another API instance would).
    const store = createEventStore(
      { nc: stack.nats.nc },
      { stream: stack.nats.stream, subjectPrefix: stack.nats.subjectPrefix },
    );
    const commands = createCommandHandler({ store });
    for (const name of ['during 1', 'during 2', 'during 3']) {
      await commands.handle(
        { type: 'CreateCampaign', data: { name, budget: { amount: 5, currency: 'EUR' } } },
        { actor: 'e2e', correlationId: `c-${name.replace(' ', '-')}`, causationId: 'e2e' },
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
    await stack.startApi();
    await page.locator('[data-testid=feed-state][data-state=live]').waitFor({ timeout: 20_000 });
    const after = await create('after the outage');

    await page.locator(`[data-testid=feed-event][data-key="${after.position}:0"]`).waitFor({ timeout: 10_000 });
    const shown = await page
      .locator('[data-testid=feed-event]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    // From the first event the page shows (it keeps the newest) to the last: the same as the log.
    const first = Math.min(...shown.map((k) => Number(k?.split(':')[0])));
    const log = await api<{ events: { position: number; index: number }[] }>(
      `/api/events?after=${first - 1}&limit=1000`,
    );
    const expected = log.events.map((e) => `${e.position}:${e.index}`);
    expect(first).toBeLessThanOrEqual(before.position + 1);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect([...shown].reverse()).toEqual(expected);
  }, 60_000);

  it('defines a workflow from JSON (errors at their field), starts a run and sees its steps turn green', async () => {
    await page.goto(`${stack.dashboard.url}/#/workflows`);
    const editor = page.getByLabel(/Definition \(JSON/);
    await editor.fill('{"name": "broken", "steps": [{"id": "a", "type": "no.such"}]}');
    await page.getByRole('button', { name: 'Define' }).click();
    await page.getByTestId('field-errors').waitFor();
    expect(await page.getByTestId('field-errors').textContent()).toMatch(/steps\.0\.type/);
    await editor.fill(
      JSON.stringify({
        name: 'Two steps',
        steps: [
          { id: 'write', type: 'ai.generate', input: { model: 'deepseek-r1:7b', prompt: 'a slogan' } },
          { id: 'wait', type: 'delay', input: { ms: 200 }, dependsOn: ['write'] },
        ],
      }),
    );
    await page.getByRole('button', { name: 'Define' }).click();
    await page.getByRole('heading', { name: 'Two steps' }).waitFor();
    await shot('workflow');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.getByRole('heading', { name: /^Run / }).waitFor();
    await page.locator('[data-testid=step-row][data-step=write][data-status=running]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid=step-row][data-step=write][data-status=succeeded]').waitFor({ timeout: 20_000 });
    await page.locator('[data-testid=step-row][data-step=wait][data-status=succeeded]').waitFor({ timeout: 20_000 });
    await page.locator('[data-testid=dag-step][data-step=wait][data-status=succeeded]').waitFor();
    await page.locator('[data-testid=status][data-status=succeeded]').first().waitFor();
    await shot('run');
    await page.goto(`${stack.dashboard.url}/#/runs`);
    await page.getByRole('table', { name: 'Runs' }).getByRole('row').nth(1).waitFor();
    await shot('runs');
  }, 60_000);

  it("streams an AI task's output in, with the reasoning folded away", async () => {
    await page.goto(`${stack.dashboard.url}/#/ai-tasks`);
    await page.getByLabel('Prompt').fill('the spring campaign');
    await page.getByRole('button', { name: 'Request' }).click();
    const output = page.getByTestId('ai-output');
    await output.waitFor();
    // Partial output first (the task still running), then the whole answer.
    await page.locator('[data-testid=ai-output][data-status=started]').filter({ hasText: 'Here is' }).waitFor({
      timeout: 15_000,
    });
    const partial = (await output.textContent()) ?? '';
    await page.locator('[data-testid=ai-output][data-status=completed]').waitFor({ timeout: 20_000 });
    const whole = (await output.textContent()) ?? '';
    expect(whole.length).toBeGreaterThan(partial.length);
    expect(whole).toMatch(/Here is the answer about the spring campaign/);
    expect(whole).not.toMatch(/pondering/);
    const reasoning = page.getByTestId('reasoning');
    expect(await reasoning.evaluate((d) => (d as unknown as { open: boolean }).open)).toBe(false);
    expect(await reasoning.textContent()).toMatch(/pondering the spring campaign/);
    await shot('ai-task');
    await page.goto(`${stack.dashboard.url}/#/ai-tasks`);
    await page.getByRole('table', { name: 'AI tasks' }).getByRole('row').nth(1).waitFor();
    await shot('ai-tasks');
  }, 60_000);

  it('verifies the log from the audit page', async () => {
    await page.goto(`${stack.dashboard.url}/#/audit`);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('audit-result').waitFor();
    expect(await page.getByTestId('audit-result').textContent()).toMatch(/The log verifies/);
    await shot('audit');
  });
});
