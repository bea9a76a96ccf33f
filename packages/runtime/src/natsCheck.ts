import type { NatsConnection } from 'nats';
import type { ReadinessCheck } from './ops.js';

/**
 * NATS answers a round trip and JetStream answers for the account. Fails at once while
 * the connection is known to be down, instead of waiting out the check's time limit.
 */
export const natsCheck =
  (nc: NatsConnection, isConnected?: () => boolean): ReadinessCheck =>
  async () => {
    if (isConnected && !isConnected()) throw new Error('disconnected');
    await nc.flush();
    await (await nc.jetstreamManager()).getAccountInfo();
  };
