import { randomUUID } from 'node:crypto';
import type { CommandHandler } from '@lightdom/eventstore';

const meta = () => ({ actor: 'load', correlationId: randomUUID(), causationId: randomUUID() });

/**
 * Sends a mix of campaign commands until `stop()` is called: creates, renames, launches
 * and many metric recordings, whose counters would show any event applied twice.
 */
export function startCommandLoad(handler: CommandHandler, campaigns = 8, pauseMs = 2) {
  let running = true;
  let sent = 0;
  let errors = 0;
  const ids: string[] = [];
  const done = (async () => {
    for (let i = 0; i < campaigns; i++) {
      const r = await handler.handle(
        { type: 'CreateCampaign', data: { name: `c${i}`, budget: { amount: 1_000_000, currency: 'EUR' } } },
        meta(),
      );
      ids.push(r.id);
      await handler.handle({ type: 'LaunchCampaign', aggregateId: r.id, data: {} }, meta());
    }
    let i = 0;
    while (running) {
      const id = ids[i % ids.length]!;
      const body =
        i % 7 === 0
          ? { type: 'RenameCampaign', aggregateId: id, data: { name: `c-${i}` } }
          : { type: 'RecordCampaignMetrics', aggregateId: id, data: { impressions: 10, clicks: 1, spend: 0.01 } };
      try {
        await handler.handle(body, meta());
        sent++;
      } catch {
        errors++;
      }
      i++;
      // A steady stream, not a flood: the point is commits arriving while the projector dies.
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    ids,
    get sent() {
      return sent;
    },
    get errors() {
      return errors;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}
