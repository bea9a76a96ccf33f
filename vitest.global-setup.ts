import { assertServersReachable } from './packages/testkit/src/index.js';

/** Fails the whole run at once, naming each missing server, instead of skipping tests. */
export default async function setup(): Promise<void> {
  await assertServersReachable();
}
