import { setTimeout as sleep } from 'node:timers/promises';
import { request } from './http.js';

/** A command the API acknowledged (2xx): the client may rely on it having happened. */
export interface Ack {
  key: string;
  type: string;
  id: string;
  position: number;
  commitId: string;
  duplicate: boolean;
  attempts: number;
}

/** A command the API refused with a non-retryable answer. */
export interface Rejection {
  key: string;
  type: string;
  status: number;
  code: string;
  attempts: number;
}

export interface LoadOptions {
  apiUrl: string;
  /** Prefix of every idempotency key, unique per run. */
  runId: string;
  workers: number;
  campaignsPerWorker: number;
  /** Pause between two commands of one worker, in ms. */
  pauseMs: number;
  /** Send RequestAiTask / RequestWorkflowRun now and then, so the workers have work. */
  aiTasks: boolean;
  workflowRuns: boolean;
}

export const impressionsPerMetrics = 10;

/** Answers a real client retries with the same idempotency key. */
const retryable = (status: number, code: string) =>
  status === 0 ||
  status === 500 ||
  status === 502 ||
  status === 503 ||
  status === 504 ||
  code === 'CONCURRENCY_CONFLICT';

/**
 * Campaign commands over HTTP, as a well-behaved client sends them: each with its own
 * Idempotency-Key, retried with the same key on 503, 5xx and connection errors until an
 * answer is final. Every worker owns its campaigns, so no answer should ever be a
 * conflict or an invalid transition; many RecordCampaignMetrics make any event applied
 * twice visible in the counters.
 */
export function startLoad(opts: LoadOptions) {
  const acks: Ack[] = [];
  const rejections: Rejection[] = [];
  const unresolved: { key: string; type: string }[] = [];
  /** Every HTTP status seen on command attempts (0 = no answer). */
  const statuses = new Map<number, number>();
  /** Every attempt: when it was sent (ms since the epoch), its status and how long it took. */
  const attemptLog: { at: number; status: number; ms: number }[] = [];
  let running = true;
  let giveUpAt = Number.POSITIVE_INFINITY;
  let seq = 0;

  async function send(type: string, body: Record<string, unknown>): Promise<Ack | undefined> {
    const key = `${opts.runId}-${++seq}`;
    for (let attempts = 1; ; attempts++) {
      const at = Date.now();
      const a = await request(`${opts.apiUrl}/api/commands`, {
        method: 'POST',
        body: { type, ...body },
        headers: { 'idempotency-key': key },
        timeoutMs: 5000,
      });
      statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      attemptLog.push({ at, status: a.status, ms: a.ms });
      const b = (a.body ?? {}) as Record<string, unknown>;
      if (a.status >= 200 && a.status < 300) {
        const ack: Ack = {
          key,
          type,
          id: String(b.id),
          position: Number(b.position),
          commitId: String(b.commitId ?? ''),
          duplicate: b.duplicate === true,
          attempts,
        };
        acks.push(ack);
        return ack;
      }
      const code = typeof b.code === 'string' ? b.code : '';
      if (!retryable(a.status, code)) {
        rejections.push({ key, type, status: a.status, code, attempts });
        return undefined;
      }
      if (Date.now() > giveUpAt) {
        unresolved.push({ key, type });
        return undefined;
      }
      await sleep(Math.min(1000, 100 * attempts));
    }
  }

  async function worker(w: number): Promise<void> {
    const campaigns: string[] = [];
    for (let c = 0; c < opts.campaignsPerWorker && running; c++) {
      const created = await send('CreateCampaign', {
        data: { name: `w${w}-c${c}`, channels: ['email'], budget: { amount: 1_000_000, currency: 'EUR' } },
      });
      if (!created) continue;
      await send('LaunchCampaign', { aggregateId: created.id, data: {} });
      campaigns.push(created.id);
    }
    for (let i = 0; running && campaigns.length > 0; i++) {
      const aggregateId = campaigns[i % campaigns.length]!;
      const slot = i % 25;
      if (slot === 5) await send('RenameCampaign', { aggregateId, data: { name: `w${w}-${i}` } });
      else if (slot === 12) {
        if (await send('PauseCampaign', { aggregateId, data: { reason: 'fault suite' } })) {
          await send('ResumeCampaign', { aggregateId, data: {} });
        }
      } else if (slot === 18 && opts.aiTasks) {
        await send('RequestAiTask', { data: { model: 'deepseek-r1:7b', prompt: `Slogan ${w}-${i}` } });
      } else if (slot === 21 && opts.workflowRuns) {
        await send('RequestWorkflowRun', {
          data: {
            workflowId: `wf-${opts.runId}`,
            definitionVersion: 1,
          },
        });
      } else {
        await send('RecordCampaignMetrics', {
          aggregateId,
          data: { impressions: impressionsPerMetrics, clicks: 1, spend: 0.01 },
        });
      }
      await sleep(opts.pauseMs);
    }
  }

  const done = Promise.all(Array.from({ length: opts.workers }, (_, w) => worker(w)));
  return {
    acks,
    rejections,
    unresolved,
    statuses,
    attemptLog,
    /** Stops sending new commands; commands in flight keep retrying for up to `graceMs`. */
    async stop(graceMs = 20_000) {
      running = false;
      giveUpAt = Date.now() + graceMs;
      await done;
    },
  };
}

export type Load = ReturnType<typeof startLoad>;

/**
 * Whether the catalogue accepts a command type: sends one for real (it becomes part of
 * the log like any other) and treats UNKNOWN_COMMAND as "not built yet".
 */
/** The workflow the load's runs start (`wf-<runId>`: a delay step); false when refused. */
export async function defineProbeWorkflow(apiUrl: string, runId: string): Promise<boolean> {
  const a = await request(`${apiUrl}/api/commands`, {
    method: 'POST',
    body: {
      type: 'DefineWorkflow',
      aggregateId: `wf-${runId}`,
      data: { name: 'fault-suite wait', steps: [{ id: 'wait', type: 'delay', input: { ms: 10 } }] },
    },
    headers: { 'idempotency-key': `${runId}-probe-DefineWorkflow` },
  });
  return a.status >= 200 && a.status < 300;
}

export async function accepts(apiUrl: string, runId: string, type: string, data: unknown): Promise<boolean> {
  const a = await request(`${apiUrl}/api/commands`, {
    method: 'POST',
    body: { type, data },
    headers: { 'idempotency-key': `${runId}-probe-${type}` },
  });
  return a.status >= 200 && a.status < 300;
}
