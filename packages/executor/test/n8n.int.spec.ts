import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutorHarness, type ExecutorHarness, startWebhook } from './support/harness.js';

/**
 * LightDom → n8n: the `http.request` step of deploy/n8n/lightdom-workflow-calling-n8n.json,
 * pointed at a loopback stand-in for the n8n webhook, sends the credential it names
 * (`N8N_WEBHOOK_TOKEN`) read from EXECUTOR_SECRETS_DIR, and nothing of it reaches the log.
 */
const example = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../deploy/n8n/lightdom-workflow-calling-n8n.json'), 'utf8'),
);
const secret = 'n8n-webhook-secret-7f3a9c';

let h: ExecutorHarness;
let secretsDir: string;
let n8n: Awaited<ReturnType<typeof startWebhook>>;
beforeAll(async () => {
  h = await createExecutorHarness('exn8n');
  secretsDir = mkdtempSync(join(tmpdir(), 'lightdom-secrets-'));
  writeFileSync(join(secretsDir, 'N8N_WEBHOOK_TOKEN'), `${secret}\n`);
  // Answers as the example webhook workflow does, and only with the right header credential.
  n8n = await startWebhook((call) =>
    call.headers['x-lightdom-token'] === secret
      ? { status: 200, json: { received: JSON.parse(call.body), runStep: call.headers['idempotency-key'] } }
      : { status: 403, text: 'Authorization data is wrong!' },
  );
  h.onCleanup(() => n8n.close());
  h.onCleanup(async () => rmSync(secretsDir, { recursive: true, force: true }));
});
afterAll(async () => h?.cleanup());

describe('an http.request step calls an n8n webhook with a credential referenced by name', () => {
  it('sends the secret as the header the n8n credential checks, and keeps it out of the log', async () => {
    await h.startExecutor({ http: { secretsDir } });
    const notify = example.steps.find((s: { id: string }) => s.id === 'notify');
    const url = new URL(notify.input.url);
    const step = { ...notify, dependsOn: [], input: { ...notify.input, url: `${n8n.url}${url.pathname}` } };
    const { runId } = await h.requestRun([step]);
    const end = await h.waitForEnd(runId);
    expect(end.status).toBe('succeeded');
    expect(n8n.callsTo('/webhook/lightdom-ad-copy')).toHaveLength(1);
    expect(end.stepStates.notify?.output).toEqual({
      status: 200,
      body: { received: { campaign: 'spring' }, runStep: `${runId}:notify:1` },
    });
    const log = JSON.stringify(await h.runCommits(runId));
    expect(log).not.toContain(secret);
    expect(log).toContain('N8N_WEBHOOK_TOKEN');
    await h.stopExecutors();
  });
});
