import type { Activity } from './activity.js';

export const chainAnchorUnavailable =
  'chain.anchor is not available yet: this executor cannot anchor audit checkpoints on chain';

/** `chain.anchor`: not built yet, so every attempt fails for good with a clear error. */
export const chainAnchorActivity: Activity = async () => ({
  kind: 'fail',
  error: chainAnchorUnavailable,
  retryable: false,
});
