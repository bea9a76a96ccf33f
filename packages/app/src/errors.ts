import { isLightdomError, LightdomError } from '@lightdom/domain';

/**
 * The one place an error that is not a LightdomError becomes one: INTERNAL, with the
 * original kept as `cause` for the log and never shown to the caller. Every edge maps the
 * code to its own status; no edge looks at an uncoded error.
 */
export function toCodedError(err: unknown): LightdomError {
  return isLightdomError(err) ? err : new LightdomError('INTERNAL', undefined, { cause: err });
}
