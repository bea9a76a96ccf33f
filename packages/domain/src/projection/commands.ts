import { z } from 'zod';
import { text } from '../text.js';

/**
 * Schemas of each projection command's `data`, keyed by command type. A projection
 * aggregate is named after the read model it is about: its id is the projection's name
 * (e.g. `campaigns`), so its decisions are one subject the projector can read.
 */
export const projectionCommandSchemas = {
  /**
   * An operator's decision that the projection may pass over the commit at `position`,
   * which it cannot apply. The projector honours it only for a commit that fails, so a
   * wrong position cannot remove a good commit from the read model.
   */
  SkipProjectionCommit: z
    .object({
      position: z.number().int('must be an integer').min(1).max(Number.MAX_SAFE_INTEGER),
      reason: text({ min: 1, max: 500, trim: true }),
    })
    .strict(),
} as const;

type Schemas = typeof projectionCommandSchemas;
export type ProjectionCommandType = keyof Schemas;

/** A validated projection command: `{type, data}` with `data` parsed by its schema. */
export type ProjectionCommand = {
  [K in ProjectionCommandType]: { type: K; data: z.output<Schemas[K]> };
}[ProjectionCommandType];
