import type { FaultContext } from './context.js';
import { type HttpAnswer, request } from './http.js';
import { impressionsPerMetrics } from './load.js';

let probes = 0;

/**
 * One RecordCampaignMetrics with a fresh idempotency key and no retry: how the API answers
 * right now. An acknowledged probe joins the checked commands. The API handles commands
 * to one campaign one after the other, so outage and recovery probes use different
 * campaigns: a recovery probe must not wait behind an outage probe.
 */
export async function probeCommand(
  ctx: FaultContext,
  campaign: keyof FaultContext['probeCampaigns'],
  timeoutMs = 5000,
): Promise<HttpAnswer> {
  const key = `${ctx.runId}-probe-${++probes}`;
  const a = await request(`${ctx.stack.api.url}/api/commands`, {
    method: 'POST',
    // The key as request id too, so the probe can be found in the API's log.
    headers: { 'idempotency-key': key, 'x-request-id': key },
    body: {
      type: 'RecordCampaignMetrics',
      aggregateId: ctx.probeCampaigns[campaign],
      data: { impressions: impressionsPerMetrics, clicks: 1, spend: 0.01 },
    },
    timeoutMs,
  });
  if (a.status >= 200 && a.status < 300) {
    const b = a.body as { id: string; position: number; commitId: string; duplicate: boolean };
    ctx.probeAcks.push({
      key,
      type: 'RecordCampaignMetrics',
      id: b.id,
      position: b.position,
      commitId: b.commitId,
      duplicate: b.duplicate,
      attempts: 1,
    });
  }
  return a;
}

/** A dashboard read that needs PostgreSQL. */
export const probeRead = (ctx: FaultContext): Promise<HttpAnswer> =>
  request(`${ctx.stack.api.url}/api/campaigns?limit=5`, { timeoutMs: 5000 });
