import type { Scenario } from '../lib/types.js';
import { aggregateLoad } from './aggregateLoad.js';
import { amqpThroughput } from './amqp.js';
import { appends } from './appends.js';
import { dashboard } from './dashboard.js';
import { grpcSubmit } from './grpcSubmit.js';
import { httpCommands } from './httpCommands.js';
import { projectorRebuild } from './projectorRebuild.js';
import { readModelLatency } from './readModelLatency.js';
import { wsFanout } from './wsFanout.js';

/** Every scenario, in the order a run executes them. A new feature adds its file here. */
export const scenarios: Scenario[] = [
  appends,
  httpCommands,
  grpcSubmit,
  readModelLatency,
  wsFanout,
  projectorRebuild,
  aggregateLoad,
  amqpThroughput,
  dashboard,
];
