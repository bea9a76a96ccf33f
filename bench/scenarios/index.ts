import type { Scenario } from '../lib/types.js';
import { aggregateLoad } from './aggregateLoad.js';
import { amqpThroughput } from './amqp.js';
import { appends } from './appends.js';
import { dashboard } from './dashboard.js';
import { httpCommands } from './httpCommands.js';
import { projectorRebuild } from './projectorRebuild.js';
import { readModelLatency } from './readModelLatency.js';

/** Every scenario, in the order a run executes them. A new feature adds its file here. */
export const scenarios: Scenario[] = [
  appends,
  httpCommands,
  readModelLatency,
  projectorRebuild,
  aggregateLoad,
  amqpThroughput,
  dashboard,
];
