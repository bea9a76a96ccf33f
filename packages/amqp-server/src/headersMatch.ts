import { preconditionFailed } from './errors.js';
import { type ArgumentTypes, typeClassOf } from './queueArguments.js';

/** A table with the wire type tag of each field (`fieldTypesOf`), as RabbitMQ compares them. */
export interface TypedTable {
  values: Record<string, unknown>;
  types: ArgumentTypes | undefined;
}

const matchKinds = new Set(['all', 'any', 'all-with-x', 'any-with-x']);

/** 406 for an `x-match` RabbitMQ refuses, with its text. */
export function checkHeadersBinding(args: TypedTable) {
  const kind = args.values['x-match'];
  if (kind === undefined || (typeof kind === 'string' && matchKinds.has(kind))) return;
  throw preconditionFailed(
    `Invalid x-match field value <<"${String(kind)}">>; expected all, any, all-with-x, or any-with-x`,
  );
}

/**
 * RabbitMQ's headers exchange: the binding's arguments against the message's headers.
 * `x-match` is `all` (default) or `any`; their `-with-x` forms also compare binding keys
 * starting with `x-` (otherwise skipped). A binding field of type void only asks for the
 * header's presence; otherwise type class (the integer types are one class) and value
 * must be equal. `all` with no fields to compare matches every message; `any` none.
 */
export function headersMatch(binding: TypedTable, headers: TypedTable): boolean {
  const kind = String(binding.values['x-match'] ?? 'all');
  const withX = kind.endsWith('-with-x');
  const all = kind.startsWith('all');
  let compared = 0;
  let anyMatched = false;
  for (const [key, want] of Object.entries(binding.values)) {
    if (key === 'x-match' || (!withX && key.startsWith('x-'))) continue;
    compared++;
    const matched = fieldMatches(key, want, binding.types, headers);
    if (matched) anyMatched = true;
    else if (all) return false;
  }
  return all ? true : compared > 0 && anyMatched;
}

function fieldMatches(key: string, want: unknown, wantTypes: ArgumentTypes | undefined, headers: TypedTable) {
  if (!Object.hasOwn(headers.values, key)) return false;
  const wantType = typeClassOf(wantTypes?.[key], want);
  if (wantType === 'void') return true;
  const got = headers.values[key];
  if (typeClassOf(headers.types?.[key], got) !== wantType) return false;
  return sameValue(want, got);
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return JSON.stringify(a) === JSON.stringify(b);
  }
  // Same type class here: integers may come as number or bigint, so compare their digits.
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return String(a) === String(b);
}
