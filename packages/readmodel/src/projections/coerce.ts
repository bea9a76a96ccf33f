import type { StoredCommit } from '@lightdom/domain';
import { storableJson, storableText } from '../storable.js';

/**
 * Total readers of event data. The log may hold anything (a forged or old commit), and
 * nothing in it may stop a projection (docs/projections.md): a field of the wrong type
 * becomes its zero value or null, text goes through `storableText`, numbers are clamped
 * to what the column holds, times that do not parse become null.
 */

/** The event's `data` as an object; anything else is `{}`. */
export function dataOf(event: unknown): Record<string, unknown> {
  const data = (event as { data?: unknown } | null)?.data;
  return data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
}

/** The event's type, or '' for an event that is not an object with a string type. */
export const typeOf = (event: unknown): string =>
  event !== null && typeof event === 'object' && typeof (event as { type?: unknown }).type === 'string'
    ? (event as { type: string }).type
    : '';

/** Text, at most `max` characters; null for null/undefined, other values as their JSON. */
export function text(v: unknown, max = 10_000): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'string' ? v : storableJson(v);
  return storableText(s.length > max ? `${s.slice(0, max - 1)}\u2026` : s);
}

/** Text that is never null. */
export const textOr = (v: unknown, fallback: string, max?: number): string => text(v, max) ?? fallback;

const int32 = 2_147_483_647;

/** A whole number within [0, max]; anything else is `fallback`. */
export function int(v: unknown, fallback = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(max, Math.max(0, Math.trunc(v)));
}

/** A whole number that fits Postgres `integer`. */
export const int4 = (v: unknown, fallback = 0): number => int(v, fallback, int32);

/** A finite number (may be fractional or negative); anything else is 0. */
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** An ISO time Postgres `timestamptz` accepts (years 1-9999), else null. */
export function time(v: unknown): string | null {
  if (typeof v !== 'string' && !(v instanceof Date)) return null;
  const d = new Date(v);
  const ms = d.getTime();
  if (!Number.isFinite(ms)) return null;
  const year = d.getUTCFullYear();
  return year >= 1 && year <= 9999 ? d.toISOString() : null;
}

/** The commit's time; a forged commit without a usable one gets the epoch. */
export const commitTime = (c: StoredCommit): string => time(c.timestamp) ?? '1970-01-01T00:00:00.000Z';

/** The aggregate id as the tables hold it (see storable.ts): only a forged id can differ. */
export const idOf = (c: StoredCommit): string => storableText(String(c.aggregateId));

/** A JSON value for a `jsonb` column: storable, parsed back so the row's JSON carries it. */
export const json = (v: unknown): unknown => JSON.parse(storableJson(v === undefined ? null : v));

/** The commit's events that are objects (a forged commit may hold anything). */
export const eventsOf = (c: StoredCommit): unknown[] =>
  Array.isArray(c.events) ? c.events.filter((e) => e !== null && typeof e === 'object') : [];
