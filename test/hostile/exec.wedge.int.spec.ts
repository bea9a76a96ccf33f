import { parseAllowList } from '@lightdom/executor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExecutorHarness, type ExecutorHarness } from '../../packages/executor/test/support/harness.js';
import { startTarget } from './exec.support.js';

/**
 * Finding 3 (issue 7): a target server can wedge or loop the executor. Each answer below
 * used to leave the run `running` for good, or have its commit redelivered (and the
 * target called) without end. Now the step fails once with the reason and the run ends.
 */

const kb700 = 'x'.repeat(700 * 1024);
const deepJson = `${'['.repeat(5000)}${']'.repeat(5000)}`;

let target: Awaited<ReturnType<typeof startTarget>>;
let h: ExecutorHarness;

beforeAll(async () => {
  target = await startTarget((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path.startsWith('/big')) res.writeHead(200, { 'content-type': 'text/plain' }).end(kb700);
    else if (path.startsWith('/deep')) res.writeHead(200, { 'content-type': 'application/json' }).end(deepJson);
    else if (path.startsWith('/fat')) {
      // 200 KB of JSON string: under the output bound set below, but six of them are not under NATS's 1 MiB.
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify('y'.repeat(200_000)));
    } else if (path.startsWith('/hang')) {
      /* never answers */
    } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  h = await createExecutorHarness('hxwedge');
});
afterAll(async () => {
  await h?.cleanup();
  await target?.close();
});

const loopback = parseAllowList('127.0.0.1').entries;

async function eventsOf(runId: string, type: string) {
  return (await h.runEvents(runId)).filter((e) => e.event.type === type);
}

/** The largest commit of the run, in bytes as stored. */
async function largestCommit(runId: string): Promise<number> {
  return Math.max(...(await h.runCommits(runId)).map((c) => Buffer.byteLength(JSON.stringify(c))));
}

describe('exec.wedge: finding 3', () => {
  it('finding 3: a 700 KB answer fails the step once with the reason (default bounds), the run moves on, the target is called once', async () => {
    await h.startExecutor({ http: { allow: loopback } });
    const { runId } = await h.requestRun([
      {
        id: 'big',
        type: 'http.request',
        input: { url: `${target.url}/big-1` },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const state = await h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toBe(
      'the response body is larger than 262144 bytes (HTTP_STEP_MAX_RESPONSE_BYTES); it was not read further',
    );
    expect(await eventsOf(runId, 'WorkflowStepFailed')).toHaveLength(1);
    expect(target.to('/big-1')).toHaveLength(1);
    await h.stopExecutors();
  });

  it('finding 3: with a 1 MiB read limit the 700 KB answer is kept as a marked prefix; the commit fits and the next step runs', async () => {
    await h.startExecutor({ http: { allow: loopback, maxResponseBytes: 1_048_576 } });
    const { runId } = await h.requestRun([
      { id: 'big', type: 'http.request', input: { url: `${target.url}/big-2` } },
      { id: 'after', type: 'http.request', input: { url: `${target.url}/after-2` }, dependsOn: ['big'] },
    ]);
    const state = await h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('succeeded');
    const output = state.stepStates.big?.output as { status: number; body: string; truncated: boolean; bytes: number };
    expect(output).toMatchObject({ status: 200, truncated: true, bytes: 700 * 1024 });
    expect(Buffer.byteLength(JSON.stringify(output.body))).toBeLessThanOrEqual(65_536);
    expect(kb700.startsWith(output.body)).toBe(true);
    expect(await largestCommit(runId)).toBeLessThan(256 * 1024);
    expect(target.to('/big-2')).toHaveLength(1);
    expect(target.to('/after-2')).toHaveLength(1);
    await h.stopExecutors();
  });

  it('finding 3: a JSON answer nested 5,000 deep fails the step once with the reason, the run moves on, the target is called once', async () => {
    const ex = await h.startExecutor({ http: { allow: loopback } });
    const { runId } = await h.requestRun([
      {
        id: 'deep',
        type: 'http.request',
        input: { url: `${target.url}/deep-1` },
        retry: { maxAttempts: 3, backoffMs: 10 },
      },
    ]);
    const state = await h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toBe(
      `GET ${target.url}/deep-1 answered 200, but the JSON response nests deeper than 32 levels (HTTP_STEP_MAX_JSON_DEPTH); it was not stored`,
    );
    expect(await eventsOf(runId, 'WorkflowStepFailed')).toHaveLength(1);
    // Give a redelivery loop time to show itself: none comes.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(target.to('/deep-1')).toHaveLength(1);
    expect(ex.logs.join('\n')).not.toContain('handling failed');
    await h.stopExecutors();
  });

  it('finding 3: an outcome that cannot be recorded (the run result is over the NATS max payload) fails the step with that reason instead of leaving the run running', async () => {
    await h.startExecutor({ http: { allow: loopback, maxOutputBytes: 250_000 } });
    const steps = Array.from({ length: 6 }, (_, i) => ({
      id: `fat${i}`,
      type: 'http.request',
      input: { url: `${target.url}/fat-${i}` },
    }));
    const { runId } = await h.requestRun(steps);
    const state = await h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toMatch(
      /^the step's output could not be recorded: PAYLOAD_TOO_LARGE: append: the commit is too large$/,
    );
    expect(await eventsOf(runId, 'WorkflowStepFailed')).toHaveLength(1);
    expect(await eventsOf(runId, 'WorkflowStepSucceeded')).toHaveLength(5);
    for (let i = 0; i < 6; i++) expect(target.to(`/fat-${i}`)).toHaveLength(1);
    await h.stopExecutors();
  });

  it('finding 3: a commit that keeps coming back is bounded: past EXECUTOR_MAX_DELIVERIES its step fails once with the reason and the target is not called again', async () => {
    // An executor that dies during the call (as one killed by a hostile answer would) leaves
    // the commit unacknowledged; JetStream hands it out again after the ack wait.
    const options = { http: { allow: loopback }, maxDeliveries: 1, ackWaitMs: 1000 };
    const first = await h.startExecutor(options);
    const { runId } = await h.requestRun([
      { id: 'hang', type: 'http.request', input: { url: `${target.url}/hang-1` } },
    ]);
    await expect.poll(() => target.to('/hang-1').length, { timeout: 15_000 }).toBe(1);
    await first.crash();
    const second = await h.startExecutor(options);
    const state = await h.waitForEnd(runId, 20_000);
    expect(state.status).toBe('failed');
    expect(state.failure?.error).toBe(
      'the executor gave up on this step after 1 deliveries of the commit that started it (EXECUTOR_MAX_DELIVERIES 1)',
    );
    expect(await eventsOf(runId, 'WorkflowStepFailed')).toHaveLength(1);
    expect(target.to('/hang-1')).toHaveLength(1);
    expect(second.logs.join('\n')).toContain('giving up on a step whose commit keeps coming back');
    await h.stopExecutors();
  });
});
