import type { RecordedEvent } from '@lightdom/domain';
import { createNatsTestEnv, createPgTestEnv, type NatsTestEnv, type PgTestEnv } from '@lightdom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { buildTestApp } from './harness.js';

let nats: NatsTestEnv;
let pgEnv: PgTestEnv;
let t: Awaited<ReturnType<typeof buildTestApp>>;
let url: string;

beforeAll(async () => {
  [nats, pgEnv] = await Promise.all([createNatsTestEnv('ws'), createPgTestEnv('ws')]);
  t = await buildTestApp(nats, pgEnv, { tokens: 'tok:dash:operator' });
  const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
  url = `${address.replace('http', 'ws')}/ws?token=tok`;
});
afterAll(async () => {
  await t?.close();
  await Promise.all([nats?.cleanup(), pgEnv?.cleanup()]);
});

type Frame = {
  op: string;
  id?: string;
  sub?: string;
  event?: RecordedEvent;
  result?: { id: string; position: number };
  error?: { code: string; errors?: { field: string }[] };
};

/** A client that queues frames so a test can wait for the next one matching a predicate. */
async function connect(target = url) {
  const ws = new WebSocket(target);
  const frames: Frame[] = [];
  const waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString()) as Frame;
    const w = waiters.find((x) => x.pred(f));
    if (w) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(f);
    } else frames.push(f);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = (pred: (f: Frame) => boolean, ms = 5000) =>
    new Promise<Frame>((resolve, reject) => {
      const i = frames.findIndex(pred);
      if (i >= 0) return resolve(frames.splice(i, 1)[0]!);
      const timer = setTimeout(() => reject(new Error('no matching frame')), ms);
      waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  const events = async (n: number) => {
    const out: RecordedEvent[] = [];
    while (out.length < n) out.push((await next((f) => f.op === 'event')).event!);
    return out;
  };
  return { ws, send: (f: unknown) => ws.send(JSON.stringify(f)), next, events, frames };
}

const createCmd = (name: string, amount = 100) => ({
  type: 'CreateCampaign',
  data: { name, budget: { amount, currency: 'EUR' } },
});

describe('WebSocket /ws', () => {
  it('sends history after a position, then live events, and acknowledges commands', async () => {
    const c = await connect();
    c.send({ op: 'command', id: 'c1', command: createCmd('ws-1') });
    const ack = await c.next((f) => f.op === 'ack' && f.id === 'c1');
    const created = ack.result!;
    c.send({ op: 'subscribe', id: 's', after: created.position - 1, filter: { aggregateType: 'campaign' } });
    expect((await c.next((f) => f.op === 'subscribed')).id).toBe('s');
    const [history] = await c.events(1);
    expect(history).toMatchObject({ type: 'CampaignCreated', aggregateId: created.id, position: created.position });
    c.send({ op: 'command', id: 'c2', command: { type: 'LaunchCampaign', aggregateId: created.id, data: {} } });
    const [live] = await c.events(1);
    expect(live).toMatchObject({ type: 'CampaignLaunched', version: 2, actor: 'dash' });
    c.ws.close();
  });

  it('resumes after a reconnect with no gap and no duplicate, even inside a multi-event commit', async () => {
    const setup = await connect();
    setup.send({ op: 'command', id: 'a', command: createCmd('ws-resume', 10) });
    const { id, position: start } = (await setup.next((f) => f.id === 'a')).result!;
    setup.send({ op: 'command', id: 'b', command: { type: 'LaunchCampaign', aggregateId: id, data: {} } });
    await setup.next((f) => f.id === 'b');
    // Spending the whole budget: one commit with three events.
    setup.send({
      op: 'command',
      id: 'm',
      command: { type: 'RecordCampaignMetrics', aggregateId: id, data: { spend: 10 } },
    });
    await setup.next((f) => f.id === 'm');
    setup.ws.close();

    const filter = { aggregateType: 'campaign', aggregateId: id };
    const first = await connect();
    first.send({ op: 'subscribe', id: 's', after: start - 1, filter });
    const seen = await first.events(3); // Created, Launched, and the first event of the metrics commit
    first.ws.terminate(); // the connection drops
    const last = seen.at(-1)!;
    const second = await connect();
    second.send({ op: 'subscribe', id: 's', after: last.position, afterIndex: last.index, filter });
    const rest = await second.events(2);
    const all = [...seen, ...rest];
    expect(all.map((e) => e.type)).toEqual([
      'CampaignCreated',
      'CampaignLaunched',
      'CampaignMetricsRecorded',
      'CampaignBudgetExhausted',
      'CampaignPaused',
    ]);
    expect(all.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    await expect(second.next((f) => f.op === 'event', 300)).rejects.toThrow('no matching frame');
    second.ws.close();
  });

  it('carries a SignalWorkflowRun command to a run (issue 14): the envelope every edge sends', async () => {
    const c = await connect();
    const wf = {
      type: 'DefineWorkflow',
      data: { name: 'ws-signal', steps: [{ id: 'ok', type: 'wait.signal', input: { name: 'approval' } }] },
    };
    c.send({ op: 'command', id: 'w', command: wf });
    const workflowId = (await c.next((f) => f.id === 'w')).result!.id;
    c.send({ op: 'command', id: 'r', command: { type: 'RequestWorkflowRun', data: { workflowId } } });
    const runId = (await c.next((f) => f.id === 'r')).result!.id;
    const signal = { type: 'SignalWorkflowRun', aggregateId: runId, data: { name: 'approval', payload: { ok: 1 } } };
    c.send({ op: 'command', id: 's', command: signal });
    expect((await c.next((f) => f.id === 's')).result).toMatchObject({ events: ['WorkflowSignalReceived'] });
    c.send({ op: 'command', id: 'bad', command: { ...signal, data: { name: 'nope' } } });
    const refused = await c.next((f) => f.id === 'bad');
    expect(refused.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    c.ws.close();
  });

  it('filters by event type', async () => {
    const c = await connect();
    c.send({ op: 'subscribe', id: 's', filter: { aggregateType: 'campaign', types: ['CampaignLaunched'] } });
    await c.next((f) => f.op === 'subscribed');
    c.send({ op: 'command', id: 'x', command: createCmd('ws-types') });
    const { id } = (await c.next((f) => f.id === 'x')).result!;
    c.send({ op: 'command', id: 'y', command: { type: 'LaunchCampaign', aggregateId: id, data: {} } });
    const [only] = await c.events(1);
    expect(only?.type).toBe('CampaignLaunched');
    c.ws.close();
  });

  it('answers bad frames and bad commands with error frames naming the field', async () => {
    const c = await connect();
    c.ws.send('not json');
    expect((await c.next((f) => f.op === 'error')).error?.code).toBe('VALIDATION_FAILED');
    c.send({ op: 'subscribe', id: 's', after: -1 });
    expect((await c.next((f) => f.op === 'error')).error?.errors?.[0]?.field).toBe('after');
    c.send({
      op: 'command',
      id: 'bad',
      command: { type: 'CreateCampaign', data: { budget: { amount: 1, currency: 'EUR' } } },
    });
    const err = await c.next((f) => f.op === 'error' && f.id === 'bad');
    expect(err.error?.errors?.map((e) => e.field)).toEqual(['data.name']);
    c.ws.close();
  });

  it('holds a burst of subscribe frames to the per-socket limit', async () => {
    const c = await connect();
    for (let i = 0; i < 20; i++) c.send({ op: 'subscribe', id: `b${i}`, filter: { aggregateType: 'campaign' } });
    const answers: Frame[] = [];
    while (answers.length < 20) answers.push(await c.next((f) => f.op === 'subscribed' || f.op === 'error'));
    expect(answers.filter((f) => f.op === 'subscribed')).toHaveLength(16);
    expect(answers.filter((f) => f.op === 'error')).toHaveLength(4);
    c.ws.close();
  });

  it('refuses a socket without a valid token', async () => {
    const ws = new WebSocket(url.replace('token=tok', 'token=nope'));
    const code = await new Promise<number>((resolve) => ws.on('close', (c) => resolve(c)));
    expect(code).toBe(4401);
  });
});
