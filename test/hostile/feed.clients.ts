import type { RecordedEvent } from '@lightdom/domain';
import WebSocket from 'ws';

export type Frame = {
  op: string;
  id?: string;
  sub?: string;
  after?: number;
  event?: RecordedEvent;
  result?: { id: string; position: number; events?: unknown[] };
  error?: { code: string; message: string; errors?: { field: string }[]; details?: Record<string, unknown> };
};

/** A WebSocket client that queues frames so a test can wait for the next one matching a predicate. */
export async function wsClient(url: string) {
  const ws = new WebSocket(url);
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
      if (i >= 0) return resolve(frames.splice(i, 1)[0] as Frame);
      const timer = setTimeout(() => reject(new Error('no matching frame')), ms);
      waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  const events = async (n: number, sub?: string) => {
    const out: RecordedEvent[] = [];
    while (out.length < n) {
      out.push((await next((f) => f.op === 'event' && (!sub || f.sub === sub))).event as RecordedEvent);
    }
    return out;
  };
  const send = (f: unknown) => ws.send(JSON.stringify(f));
  /** Sends a command and waits for its ack. */
  const command = async (id: string, command: unknown) => {
    send({ op: 'command', id, command });
    const f = await next((x) => x.id === id && (x.op === 'ack' || x.op === 'error'));
    if (f.op !== 'ack') throw new Error(`command ${id} failed: ${JSON.stringify(f.error)}`);
    return f.result as NonNullable<Frame['result']>;
  };
  return { ws, send, next, events, command, frames };
}

export const createCampaign = (name: string, amount = 100) => ({
  type: 'CreateCampaign',
  data: { name, budget: { amount, currency: 'EUR' } },
});
