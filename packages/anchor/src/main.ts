import { randomUUID } from 'node:crypto';
import { createApplication } from '@lightdom/app';
import { createCommandHandler, createEventStore } from '@lightdom/eventstore';
import {
  createMetricsRegistry,
  natsCheck,
  redactUrl,
  runService,
  startOpsServer,
  startTracing,
} from '@lightdom/runtime';
import { connect } from 'nats';
import { Counter, Gauge } from 'prom-client';
import { createAnchorClient } from './chain.js';
import { createCheckpointer } from './checkpointer.js';
import { loadAnchorConfig } from './config.js';

/** The anchor service: the checkpoint job on a timer, with /health, /ready and /metrics. */
runService('anchor', async (logger) => {
  const config = loadAnchorConfig(process.env);
  const tracing = startTracing(config, 'anchor', logger);
  const nc = await connect({ servers: config.NATS_URL.split(','), name: 'lightdom-anchor', maxReconnectAttempts: -1 });
  const store = createEventStore({ nc }, { stream: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX });
  const app = createApplication({ commands: createCommandHandler({ store }), store, tokens: config.tokens });
  const identity = app.authenticate({ token: config.serviceToken });
  const chain = createAnchorClient({
    rpcUrl: config.CHAIN_RPC_URL,
    contractAddress: config.AUDIT_ANCHOR_ADDRESS,
    signerKey: config.signerKey,
    confirmations: config.CHAIN_CONFIRMATIONS,
    timeoutMs: config.CHAIN_TX_TIMEOUT_MS,
  });
  const registry = createMetricsRegistry('anchor');
  const metrics = {
    recorded: new Counter({
      name: 'lightdom_anchor_checkpoints_recorded_total',
      help: 'Checkpoints recorded in the log',
      registers: [registry],
    }),
    anchored: new Counter({
      name: 'lightdom_anchor_checkpoints_anchored_total',
      help: 'Checkpoints anchored on chain',
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'lightdom_anchor_checkpoints_pending',
      help: 'Recorded checkpoints not yet anchored',
      registers: [registry],
    }),
    chainUp: new Gauge({
      name: 'lightdom_anchor_chain_available',
      help: '1 when the last chain call succeeded',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'lightdom_anchor_tick_errors_total',
      help: 'Checkpoint rounds that failed',
      registers: [registry],
    }),
  };
  const job = createCheckpointer({
    store,
    chain,
    every: config.AUDIT_CHECKPOINT_EVERY,
    intervalMs: config.AUDIT_CHECKPOINT_INTERVAL_MS,
    maxRange: config.AUDIT_CHECKPOINT_MAX_RANGE,
    submit: (command) =>
      app.submit(identity, command, { correlationId: randomUUID(), causationId: `anchor:${randomUUID()}` }),
    log: (fields, message) => logger.info(fields, message),
  });
  const ops = await startOpsServer({
    service: 'anchor',
    registry,
    host: config.HOST,
    port: config.OPS_PORT,
    logger,
    // The chain is not a readiness condition: a chain that is down only delays anchoring.
    checks: { nats: natsCheck(nc) },
  });
  logger.info(
    {
      ops: ops.url,
      rpc: redactUrl(config.CHAIN_RPC_URL),
      contract: config.AUDIT_ANCHOR_ADDRESS,
      actor: identity.actor,
    },
    'anchor service started',
  );
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    try {
      const r = await job.tick();
      metrics.recorded.inc(r.recorded);
      metrics.anchored.inc(r.anchored);
      metrics.pending.set(r.pending);
    } catch (err) {
      metrics.errors.inc();
      logger.warn({ err }, 'checkpoint round failed; retrying next round');
    }
    metrics.chainUp.set(job.chainAvailable ? 1 : 0);
  };
  const period = Math.max(100, Math.min(config.AUDIT_CHECKPOINT_INTERVAL_MS, 5000));
  const timer = setInterval(() => {
    if (!stopped) running = running.then(round);
  }, period);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      chain.destroy();
      await ops.close();
      await nc.drain();
      await tracing.shutdown();
    },
  };
});
